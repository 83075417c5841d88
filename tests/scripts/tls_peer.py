#!/usr/bin/env python3
"""librdkafka's side of dekaf's TLS tests (confluent-kafka): it proves the terminator setup
and reads and writes the same records as dekaf through it.

  tls_peer.py produce BOOTSTRAP CA_FILE TOPIC N
      writes N records "librdkafka-0".."librdkafka-(N-1)" to partition 0 over TLS
  tls_peer.py consume BOOTSTRAP CA_FILE TOPIC N
      reads N records of partition 0 from the start over TLS, prints them as a JSON list

Exits non-zero with a message on stderr when librdkafka reports an error.
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT = 30


def tls(bootstrap, ca):
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": ca,
    }


def produce(bootstrap, ca, topic, n):
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(str(err))

    p = Producer(tls(bootstrap, ca))
    for i in range(n):
        p.produce(topic, value=f"librdkafka-{i}".encode(), partition=0, on_delivery=report)
    left = p.flush(TIMEOUT)
    if left or errors:
        raise KafkaException(f"{left} records unsent, errors: {errors}")


def consume(bootstrap, ca, topic, n):
    config = tls(bootstrap, ca)
    config.update({"group.id": "tls-peer", "enable.auto.commit": False})
    c = Consumer(config)
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(got) < n and time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                raise KafkaException(m.error())
            got.append(m.value().decode())
    finally:
        c.close()
    print(json.dumps(got))


def main():
    action, bootstrap, ca, topic, n = sys.argv[1:6]
    {"produce": produce, "consume": consume}[action](bootstrap, ca, topic, int(n))


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        print(f"librdkafka: {e}", file=sys.stderr)
        sys.exit(1)
