#!/usr/bin/env python3
"""librdkafka's side of dekaf's transaction interop tests (confluent-kafka), one action per run.

  txn_interop.py read BOOTSTRAP TOPIC PARTITIONS ISOLATION
      reads partitions 0..PARTITIONS of TOPIC from the beginning to their end (the end
      librdkafka sees: the last stable offset under read_committed) with isolation.level
      ISOLATION (read_committed or read_uncommitted); prints {"PARTITION": [VALUE, ...], ...}
  txn_interop.py transactions BOOTSTRAP TOPIC TRANSACTIONAL_ID
      with a transactional producer: commits lib-committed-0..4 to partition 0, then writes
      lib-aborted-0..4 and aborts, then commits lib-again-0..1

Exits non-zero with a message on stderr when librdkafka reports an error.
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

TIMEOUT = 30


def read(bootstrap, topic, partitions, isolation):
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-interop-" + uuid.uuid4().hex,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation,
            "auto.offset.reset": "earliest",
        }
    )
    n = int(partitions)
    out = {str(p): [] for p in range(n)}
    at_end = set()
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(n)])
        deadline = time.time() + TIMEOUT
        while len(at_end) < n:
            if time.time() > deadline:
                raise SystemExit(f"did not reach the end of {topic}: {sorted(at_end)}")
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition())
                    continue
                raise KafkaException(msg.error())
            at_end.discard(msg.partition())
            out[str(msg.partition())].append(msg.value().decode())
    finally:
        c.close()
    print(json.dumps(out, sort_keys=True))


def transactions(bootstrap, topic, transactional_id):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id})
    p.init_transactions(TIMEOUT)

    def write(prefix, n):
        for i in range(n):
            p.produce(topic, value=f"{prefix}-{i}".encode(), partition=0)

    p.begin_transaction()
    write("lib-committed", 5)
    p.commit_transaction(TIMEOUT)
    p.begin_transaction()
    write("lib-aborted", 5)
    if p.flush(TIMEOUT) != 0:
        raise SystemExit("records still in flight after flush")
    p.abort_transaction(TIMEOUT)
    p.begin_transaction()
    write("lib-again", 2)
    p.commit_transaction(TIMEOUT)


def main(args):
    if len(args) == 5 and args[0] == "read":
        read(*args[1:])
    elif len(args) == 4 and args[0] == "transactions":
        transactions(*args[1:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
