#!/usr/bin/env python3
"""A librdkafka (confluent-kafka) member of a consumer group, for dekaf's mixed-group tests.

  group_member.py BOOTSTRAP GROUP TOPIC ASSIGNOR

Subscribes to TOPIC with partition.assignment.strategy=ASSIGNOR and manual commits: each record
is committed (synchronously) once received, and on_revoke commits the positions of the revoked
partitions, so that whoever takes a partition over starts after the last record read here.

Prints one JSON object per line on stdout:
  {"event": "assigned" | "revoked" | "lost", "partitions": [P...], "assignment": [P...]}
  {"event": "record", "partition": P, "offset": O, "value": V}
  {"event": "join", "generation": G, "protocol": NAME, "leader": ID, "member": ID}
      from librdkafka's group debug log: who leads the generation just joined
  {"event": "error", "message": TEXT}       a commit or consume error (rebalances included)
  {"event": "violation", "message": TEXT}   a record of a partition this member does not hold
  {"event": "closed"}

Reads commands on stdin, one per line: "close" closes the consumer (leaving the group) and
exits.
"""

import json
import logging
import queue
import re
import sys
import threading

from confluent_kafka import Consumer, KafkaException, TopicPartition

JOIN = re.compile(
    r"JoinGroup response: GenerationId (-?\d+), Protocol (\S*), LeaderId (\S*?)(?: \(me\))?, "
    r"my MemberId (\S*),"
)


def say(**fields):
    print(json.dumps(fields, sort_keys=True), flush=True)


class JoinWatcher(logging.Handler):
    """Turns librdkafka's JoinGroup debug line into a "join" event."""

    def emit(self, record):
        m = JOIN.search(record.getMessage())
        if m:
            say(
                event="join",
                generation=int(m.group(1)),
                protocol=m.group(2),
                leader=m.group(3),
                member=m.group(4),
            )


def main(argv):
    if len(argv) != 5:
        raise SystemExit(__doc__)
    bootstrap, group, topic, assignor = argv[1:]
    logger = logging.getLogger("librdkafka")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(JoinWatcher())
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "librdkafka-member",
            "partition.assignment.strategy": assignor,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
            "debug": "cgrp",
        },
        logger=logger,
    )
    held = set()

    def changed(event, partitions):
        for tp in partitions:
            if event == "assigned":
                held.add(tp.partition)
            else:
                held.discard(tp.partition)
        say(
            event=event,
            partitions=sorted(tp.partition for tp in partitions),
            assignment=sorted(held),
        )

    def on_assign(consumer, partitions):
        changed("assigned", partitions)

    def on_revoke(consumer, partitions):
        if partitions:
            try:
                positions = consumer.position(partitions)
                done = [tp for tp in positions if tp.offset >= 0]
                if done:
                    consumer.commit(offsets=done, asynchronous=False)
            except KafkaException as e:
                say(event="error", message="commit on revoke: %s" % e)
        changed("revoked", partitions)

    def on_lost(consumer, partitions):
        changed("lost", partitions)

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

    commands = queue.Queue()

    def read_commands():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("close")

    threading.Thread(target=read_commands, daemon=True).start()

    while True:
        try:
            command = commands.get_nowait()
        except queue.Empty:
            command = None
        if command == "close":
            break
        msg = c.poll(0.1)
        if msg is None:
            continue
        if msg.error():
            say(event="error", message=str(msg.error()))
            continue
        if msg.partition() not in held:
            say(
                event="violation",
                message="record %d@%d while holding %s"
                % (msg.partition(), msg.offset(), sorted(held)),
            )
        value = msg.value().decode() if msg.value() is not None else ""
        say(event="record", partition=msg.partition(), offset=msg.offset(), value=value)
        try:
            c.commit(message=msg, asynchronous=False)
        except KafkaException as e:
            say(event="error", message="commit: %s" % e)
    c.close()
    say(event="closed")


if __name__ == "__main__":
    main(sys.argv)
