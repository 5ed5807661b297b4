# A librdkafka producer (Debian's python3-confluent-kafka) for issue 19's conformance test:
# idempotent, acks=all, COUNT records `rd-<i>` to one partition, printing HALF once half are
# handed to librdkafka (the test then kills the partition's leader) and, at the end, a JSON line
# with the values librdkafka reported delivered and the number it reported failed.
#
#   /usr/bin/python3 rdkafka-producer.py BOOTSTRAP TOPIC PARTITION COUNT
#
# RDKAFKA_CONFIG, if set, is a JSON object of more librdkafka settings (SASL_SSL on a secure cluster).
import json
import os
import sys
import time

from confluent_kafka import Producer

bootstrap, topic, partition, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
producer = Producer({
    'bootstrap.servers': bootstrap,
    'enable.idempotence': True,
    'acks': 'all',
    'linger.ms': 5,
    'message.timeout.ms': 120000,
    **json.loads(os.environ.get('RDKAFKA_CONFIG', '{}')),
})
acked = []
failed = []


def on_delivery(err, msg):
    if err is None:
        acked.append(msg.value().decode())
    else:
        failed.append(str(err))


for i in range(count):
    while True:
        try:
            producer.produce(topic, value=f'rd-{i}'.encode(), partition=partition, on_delivery=on_delivery)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)
    if i == count // 2:
        print('HALF', flush=True)
    if i % 100 == 0:
        time.sleep(0.02)
left = producer.flush(150)
print(json.dumps({'acked': acked, 'failed': len(failed), 'errors': failed[:5], 'undelivered': left}), flush=True)
