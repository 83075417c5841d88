#!/usr/bin/env python3
"""librdkafka's (confluent-kafka) view of a group's offsets, for dekaf's admin tests.

  lag_interop.py BOOTSTRAP GROUP TOPIC PARTITION=OFFSET...

Subscribes to TOPIC in GROUP with manual commits and reads until it has received, for each
PARTITION given, the record before OFFSET; then commits OFFSET for each of them
(synchronously). It then prints one JSON line:

  {"member": MEMBER_ID, "partitions": {"P": {"committed": C, "low": L, "high": H}, ...}}

with, for every partition it was assigned, the group's committed offset (null when none) and
the low and high watermarks, as librdkafka's committed() and get_watermark_offsets() report
them. It stays in the group, polling, until it reads "close" on stdin (or stdin ends); then it
closes the consumer (leaving the group) and prints {"event": "closed"}.

  lag_interop.py --first BOOTSTRAP GROUP TOPIC PARTITION...

Subscribes to TOPIC in GROUP without committing anything and reads until it has received a
record of each PARTITION given; then prints one JSON line, {"first": {"P": OFFSET, ...}}, the
offset of the first record it received of each of them (where the group's committed offsets
made it start), and closes the consumer.

Exits non-zero with a message on stderr when librdkafka reports an error.
"""

import json
import queue
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

TIMEOUT = 30


def first(argv):
    if len(argv) < 6:
        raise SystemExit(__doc__)
    bootstrap, group, topic = argv[2:5]
    wanted = {int(p) for p in argv[5:]}
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "librdkafka-first",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    c.subscribe([topic])
    seen = {}
    deadline = time.time() + TIMEOUT
    while not wanted <= set(seen):
        if time.time() > deadline:
            raise SystemExit("no record yet of partitions %s" % sorted(wanted - set(seen)))
        msg = c.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        seen.setdefault(msg.partition(), msg.offset())
    c.close()
    report = {str(p): o for p, o in sorted(seen.items()) if p in wanted}
    print(json.dumps({"first": report}, sort_keys=True), flush=True)


def main(argv):
    if len(argv) > 1 and argv[1] == "--first":
        return first(argv)
    if len(argv) < 5:
        raise SystemExit(__doc__)
    bootstrap, group, topic = argv[1:4]
    targets = {}
    for pair in argv[4:]:
        p, o = pair.split("=")
        targets[int(p)] = int(o)
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "librdkafka-lag",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    assigned = set()

    def on_assign(consumer, partitions):
        assigned.update(tp.partition for tp in partitions)

    def on_revoke(consumer, partitions):
        assigned.difference_update(tp.partition for tp in partitions)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    waiting = dict(targets)
    deadline = time.time() + TIMEOUT
    while waiting:
        if time.time() > deadline:
            raise SystemExit("records still missing: %s" % sorted(waiting))
        msg = c.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        p = msg.partition()
        if p in waiting and msg.offset() + 1 >= waiting[p]:
            del waiting[p]
    offsets = [TopicPartition(topic, p, o) for p, o in sorted(targets.items())]
    for tp in c.commit(offsets=offsets, asynchronous=False) or []:
        if tp.error is not None:
            raise KafkaException(tp.error)

    tps = [TopicPartition(topic, p) for p in sorted(assigned)]
    report = {}
    for tp in c.committed(tps, timeout=TIMEOUT):
        if tp.error is not None:
            raise KafkaException(tp.error)
        low, high = c.get_watermark_offsets(tp, timeout=TIMEOUT)
        report[str(tp.partition)] = {
            "committed": tp.offset if tp.offset >= 0 else None,
            "low": low,
            "high": high,
        }
    print(json.dumps({"member": c.memberid(), "partitions": report}, sort_keys=True), flush=True)

    commands = queue.Queue()

    def read_commands():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("close")

    threading.Thread(target=read_commands, daemon=True).start()
    while True:
        try:
            if commands.get_nowait() == "close":
                break
        except queue.Empty:
            pass
        msg = c.poll(0.1)
        if msg is not None and msg.error():
            raise KafkaException(msg.error())
    c.close()
    print(json.dumps({"event": "closed"}), flush=True)


if __name__ == "__main__":
    main(sys.argv)
