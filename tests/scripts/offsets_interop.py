#!/usr/bin/env python3
"""librdkafka's side of dekaf's interop tests (confluent-kafka), one action per run.

  offsets_interop.py committed BOOTSTRAP GROUP TOPIC PARTITION...
      prints {"PARTITION": OFFSET or null, ...}: the group's committed offsets
  offsets_interop.py commit BOOTSTRAP GROUP TOPIC PARTITION=OFFSET...
      commits those offsets for the group, synchronously
  offsets_interop.py partitions BOOTSTRAP TOPIC KEY...
      produces one record per key with the murmur2 partitioner (Java's), prints
      {"KEY": PARTITION, ...}

Exits non-zero with a message on stderr when librdkafka reports an error.
"""

import json
import sys

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT = 30


def consumer(bootstrap, group):
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )


def committed(bootstrap, group, topic, partitions):
    c = consumer(bootstrap, group)
    try:
        tps = c.committed([TopicPartition(topic, int(p)) for p in partitions], timeout=TIMEOUT)
    finally:
        c.close()
    out = {}
    for tp in tps:
        if tp.error is not None:
            raise KafkaException(tp.error)
        out[str(tp.partition)] = tp.offset if tp.offset >= 0 else None
    print(json.dumps(out, sort_keys=True))


def commit(bootstrap, group, topic, pairs):
    offsets = []
    for pair in pairs:
        p, o = pair.split("=")
        offsets.append(TopicPartition(topic, int(p), int(o)))
    c = consumer(bootstrap, group)
    try:
        result = c.commit(offsets=offsets, asynchronous=False)
    finally:
        c.close()
    for tp in result or []:
        if tp.error is not None:
            raise KafkaException(tp.error)


def partitions(bootstrap, topic, keys):
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2"})
    out = {}
    errors = []

    def delivered(err, msg):
        if err is not None:
            errors.append(err)
        else:
            out[msg.key().decode()] = msg.partition()

    for key in keys:
        p.produce(topic, key=key.encode(), value=b"librdkafka", on_delivery=delivered)
    if p.flush(TIMEOUT) != 0:
        raise SystemExit("records still in flight after flush")
    if errors:
        raise KafkaException(errors[0])
    print(json.dumps(out, sort_keys=True))


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    action, rest = argv[1], argv[2:]
    if action == "committed" and len(rest) >= 4:
        committed(rest[0], rest[1], rest[2], rest[3:])
    elif action == "commit" and len(rest) >= 4:
        commit(rest[0], rest[1], rest[2], rest[3:])
    elif action == "partitions" and len(rest) >= 3:
        partitions(rest[0], rest[1], rest[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
