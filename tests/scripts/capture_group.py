#!/usr/bin/env python3
"""Run a two-member consumer group with librdkafka, for a proxy to record what the members say.

Starts no broker: give it the address of a running one (in the tests, a recording proxy in front
of tansu). It creates the topic (3 partitions) if needed, then:

1. consumer `dekaf-capture-a` subscribes and polls until it owns all 3 partitions;
2. consumer `dekaf-capture-b` subscribes; both poll until the partitions are split between them
   and the split has held for 3 seconds;
3. b closes (leaving the group), then a.

With `--strategy default` the consumers keep librdkafka's default
`partition.assignment.strategy`; otherwise it is set to the given value. At the end it prints one
JSON line: the librdkafka version, the consumer settings and the assignments seen.

    python3 tests/scripts/capture_group.py --bootstrap 127.0.0.1:9092 --topic t --group g \\
        --strategy cooperative-sticky
"""

import argparse
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 3
DEADLINE_S = 90
STABLE_S = 3.0


def settings(bootstrap, group, name, strategy):
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "client.id": f"dekaf-capture-{name}",
        # tansu holds a first JoinGroup for about half the session timeout.
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }
    if strategy != "default":
        conf["partition.assignment.strategy"] = strategy
    return conf


def create_topic(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    for f in futures.values():
        try:
            f.result(timeout=30)
        except confluent_kafka.KafkaException as e:
            if e.args[0].code() != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                raise


def owned(consumer):
    return sorted(tp.partition for tp in consumer.assignment())


def poll_until(consumers, done, what):
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        for c in consumers:
            msg = c.poll(0.1)
            if msg is not None and msg.error():
                print(f"consumer error: {msg.error()}", file=sys.stderr)
        if done():
            return
    sys.exit(f"timed out waiting for {what}: {[owned(c) for c in consumers]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--strategy", required=True,
                        help="default, range, roundrobin or cooperative-sticky")
    args = parser.parse_args()
    create_topic(args.bootstrap, args.topic)

    a_conf = settings(args.bootstrap, args.group, "a", args.strategy)
    a = Consumer(a_conf)
    a.subscribe([args.topic])
    poll_until([a], lambda: len(owned(a)) == PARTITIONS, "a to own every partition")
    alone = owned(a)

    b = Consumer(settings(args.bootstrap, args.group, "b", args.strategy))
    b.subscribe([args.topic])
    since = [None]

    def split():
        pa, pb = owned(a), owned(b)
        ok = pa and pb and sorted(pa + pb) == list(range(PARTITIONS))
        if not ok:
            since[0] = None
            return False
        since[0] = since[0] or time.monotonic()
        return time.monotonic() - since[0] >= STABLE_S

    poll_until([a, b], split, "the partitions to be split between a and b")
    shared = {"dekaf-capture-a": owned(a), "dekaf-capture-b": owned(b)}
    b.close()
    a.close()

    a_conf.pop("bootstrap.servers")
    print(json.dumps({
        "librdkafka": confluent_kafka.libversion()[0],
        "confluent_kafka": confluent_kafka.__version__,
        "strategy": args.strategy,
        "consumer_config": a_conf,
        "assigned_alone": {"dekaf-capture-a": alone},
        "assigned_shared": shared,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
