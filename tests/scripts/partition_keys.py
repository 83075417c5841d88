#!/usr/bin/env python3
"""Produce keyed records with librdkafka's murmur2 partitioner and report each key's partition.

Starts no broker: give it the address of a running one. For each partition count asked for, it
creates topic `{prefix}-{count}` with that many partitions, produces one record per key with
`partitioner=murmur2_random` (the Java client's partitioner), and reads the partition of each
record from its delivery report. The keys are deterministic: byte strings of length 0 to 40
(the empty key included, which is not a null key), ASCII and UTF-8 text, and raw bytes.

Prints one JSON line: {"librdkafka": version, "topics": {"<count>": [[key_hex, partition], ...]}}.

    python3 tests/scripts/partition_keys.py --bootstrap 127.0.0.1:9092 --keys 10000 \\
        --partitions 7 32
"""

import argparse
import hashlib
import json
import sys

import confluent_kafka
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

DEADLINE_S = 120


def keys(n):
    out = []
    for i in range(n):
        digest = hashlib.sha256(str(i).encode()).digest()
        kind = i % 4
        if kind == 0:
            key = f"key-{i}".encode()
        elif kind == 1:
            key = f"ключ-{i}-é".encode()
        else:
            key = (digest * 2)[: i % 41]
        out.append(key)
    return out


def create_topics(bootstrap, names_and_counts):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=count, replication_factor=1) for name, count in names_and_counts]
    )
    for f in futures.values():
        try:
            f.result(timeout=30)
        except confluent_kafka.KafkaException as e:
            if e.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="partitioner")
    parser.add_argument("--keys", type=int, default=10000)
    parser.add_argument("--partitions", type=int, nargs="+", default=[7])
    args = parser.parse_args()

    topics = [(f"{args.prefix}-{count}", count) for count in args.partitions]
    create_topics(args.bootstrap, topics)
    all_keys = keys(args.keys)
    result = {}
    for name, count in topics:
        placed = {}

        def report(err, msg, placed=placed):
            if err is not None:
                sys.exit(f"delivery failed: {err}")
            placed[msg.key()] = msg.partition()

        producer = Producer(
            {
                "bootstrap.servers": args.bootstrap,
                "partitioner": "murmur2_random",
                "linger.ms": 20,
                "acks": "all",
            }
        )
        for key in all_keys:
            while True:
                try:
                    producer.produce(name, key=key, value=b"v", on_delivery=report)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        left = producer.flush(DEADLINE_S)
        if left:
            sys.exit(f"{left} records not delivered to {name}")
        missing = [k for k in all_keys if k not in placed]
        if missing:
            sys.exit(f"{len(missing)} keys without a delivery report for {name}")
        result[str(count)] = [[k.hex(), placed[k]] for k in all_keys]
    print(json.dumps({"librdkafka": confluent_kafka.libversion()[0], "topics": result}))


if __name__ == "__main__":
    main()
