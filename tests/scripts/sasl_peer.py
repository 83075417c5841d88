#!/usr/bin/env python3
"""librdkafka's side of dekaf's SASL tests (confluent-kafka): with the same credentials it
proves the broker's setup, and reads and writes the same records as dekaf.

  sasl_peer.py produce BOOTSTRAP MECHANISM USER PASSWORD TOPIC N
      writes N records "librdkafka-0".."librdkafka-(N-1)" to partition 0
  sasl_peer.py consume BOOTSTRAP MECHANISM USER PASSWORD TOPIC N
      reads N records of partition 0 from the start, prints them as a JSON list

Exits non-zero with a message on stderr when librdkafka reports an error (a wrong password
included: librdkafka retries authentication forever, so errors end the run at once here).
"""

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

TIMEOUT = 30


def config(bootstrap, mechanism, user, password):
    errors = []

    def on_error(err):
        errors.append(str(err))

    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.username": user,
        "sasl.password": password,
        "error_cb": on_error,
    }, errors


def produce(bootstrap, mechanism, user, password, topic, n):
    conf, errors = config(bootstrap, mechanism, user, password)
    failed = []
    p = Producer(conf)
    for i in range(n):
        p.produce(
            topic,
            value=f"librdkafka-{i}".encode(),
            partition=0,
            on_delivery=lambda err, _m: failed.append(str(err)) if err else None,
        )
    deadline = time.monotonic() + TIMEOUT
    while len(p) and time.monotonic() < deadline and not errors:
        p.poll(0.1)
    if len(p) or failed or errors:
        raise KafkaException(f"{len(p)} unsent, failed {failed[:3]}, errors {errors[:3]}")


def consume(bootstrap, mechanism, user, password, topic, n):
    conf, errors = config(bootstrap, mechanism, user, password)
    conf.update({"group.id": "sasl-peer", "enable.auto.commit": False})
    c = Consumer(conf)
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(got) < n and time.monotonic() < deadline and not errors:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise KafkaException(m.error())
            got.append(m.value().decode())
    finally:
        c.close()
    if errors:
        raise KafkaException(f"errors {errors[:3]}")
    print(json.dumps(got))


def main():
    action, bootstrap, mechanism, user, password, topic, n = sys.argv[1:8]
    {"produce": produce, "consume": consume}[action](
        bootstrap, mechanism, user, password, topic, int(n)
    )


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        print(f"librdkafka: {e}", file=sys.stderr)
        sys.exit(1)
