#!/usr/bin/env python3
"""Produce a fixed set of records with librdkafka, one topic per codec, and write what was sent.

Starts no broker: give it the address of a running one. For each codec it creates the topic
`vectors-<codec>` (one partition), produces the records below in two flushes (so each flush
becomes one batch of several records) and writes `<codec>.expected.json` into the output
directory: the producer's settings, the records per flush, and every record with the offset
librdkafka's delivery report gave it.

    python3 tests/scripts/make_vectors.py --bootstrap 127.0.0.1:9092 --out tests/data/librdkafka

`cargo test -p dekaf-tests --test librdkafka_vectors -- --ignored regenerate` runs it against a
fresh broker and then fetches the raw batches next to the JSON files.
"""

import argparse
import json
import os
import sys

import confluent_kafka
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
# One codec also covers the idempotent producer's id, epoch and sequence numbers.
IDEMPOTENT = {"lz4"}
# 2023-11-14T22:13:20Z: fixed, so every run writes the same timestamps.
BASE_TS = 1_700_000_000_000


def text(n, word):
    """A value that compresses well, so librdkafka keeps the compressed form."""
    return (" ".join(f"{word}-{i}" for i in range(n))).encode()


def flushes():
    """The records, as one list per flush. Each record: (key, value, headers, timestamp)."""
    first = [
        (b"key-0", text(12, "alpha"), [("trace", b"abc"), ("empty", b""), ("none", None)], BASE_TS),
        (None, text(12, "beta"), [], BASE_TS + 1),
        (b"key-2", None, [("bin", bytes([0, 1, 254, 255]))], BASE_TS + 2),
        # Earlier than the batch's first record: a negative timestamp delta.
        (b"", b"", [], BASE_TS - 5_000),
        (b"key-4", text(12, "gamma"), [("dup", b"1"), ("dup", b"2")], BASE_TS + 3),
    ]
    second = [
        (b"key-5", text(12, "delta"), [("none", None)], BASE_TS + 10_000),
        # Ten days later: a timestamp delta beyond 32 bits of milliseconds is not needed, but
        # a multi-byte varlong is.
        (None, None, [], BASE_TS + 864_000_000),
        (b"key-7", text(12, "epsilon"), [("utf8", "h\u00e9".encode())], BASE_TS + 10_001),
    ]
    return [first, second]


def hexify(b):
    return None if b is None else b.hex()


def to_json(expected):
    """Sorted keys, one record per line: stable across runs and easy to diff."""
    lines = ["{"]
    for key in sorted(k for k in expected if k != "records"):
        lines.append(f" {json.dumps(key)}: {json.dumps(expected[key], sort_keys=True)},")
    records = [f"  {json.dumps(r, sort_keys=True)}" for r in expected["records"]]
    lines.append(' "records": [')
    lines.append(",\n".join(records))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def config(bootstrap, codec):
    conf = {
        "bootstrap.servers": bootstrap,
        "client.id": "dekaf-vectors",
        "compression.type": codec,
        "acks": "all",
        # Records wait for the flush, which then sends each flush's records as one batch.
        "linger.ms": 5000,
        "batch.num.messages": 1000,
        "enable.idempotence": codec in IDEMPOTENT,
    }
    return conf


def create_topics(bootstrap, topics):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics])
    for topic, f in futures.items():
        f.result(timeout=30)


def produce(bootstrap, codec, topic):
    conf = config(bootstrap, codec)
    producer = Producer(conf)
    delivered = []

    def on_delivery(err, msg):
        if err is not None:
            raise RuntimeError(f"{topic}: delivery failed: {err}")
        delivered.append(msg.offset())

    records = []
    for group in flushes():
        for key, value, headers, ts in group:
            producer.produce(topic, value=value, key=key, headers=headers, timestamp=ts,
                             partition=0, on_delivery=on_delivery)
            records.append((key, value, headers, ts))
        left = producer.flush(30)
        if left:
            sys.exit(f"{topic}: {left} records not delivered")
    if len(delivered) != len(records):
        sys.exit(f"{topic}: {len(delivered)} delivery reports for {len(records)} records")
    out = []
    for offset, (key, value, headers, ts) in zip(delivered, records):
        out.append({
            "offset": offset,
            "timestamp": ts,
            "key": hexify(key),
            "value": hexify(value),
            "headers": [[k, hexify(v)] for k, v in headers],
        })
    conf.pop("bootstrap.servers")
    return {
        "topic": topic,
        "partition": 0,
        "codec": codec,
        "idempotent": codec in IDEMPOTENT,
        "librdkafka": confluent_kafka.libversion()[0],
        "confluent_kafka": confluent_kafka.__version__,
        "producer_config": conf,
        "records_per_flush": [len(g) for g in flushes()],
        "records": out,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="HOST:PORT of a running broker")
    parser.add_argument("--out", required=True, help="directory for <codec>.expected.json")
    parser.add_argument("--codecs", default=",".join(CODECS), help="comma-separated subset")
    args = parser.parse_args()
    codecs = [c for c in args.codecs.split(",") if c]
    for c in codecs:
        if c not in CODECS:
            sys.exit(f"unknown codec {c}; known: {', '.join(CODECS)}")
    os.makedirs(args.out, exist_ok=True)
    topics = {c: f"vectors-{c}" for c in codecs}
    create_topics(args.bootstrap, list(topics.values()))
    for codec in codecs:
        expected = produce(args.bootstrap, codec, topics[codec])
        path = os.path.join(args.out, f"{codec}.expected.json")
        with open(path, "w") as f:
            f.write(to_json(expected))
        print(f"{topics[codec]}: {len(expected['records'])} records -> {path}")


if __name__ == "__main__":
    main()
