import { Admin, Producer } from '@tributary/client';
import { createBenchTopic } from '../src/workload.ts';
const bootstrap = process.argv[2] ?? '127.0.0.1:31002';
const admin = new Admin({ bootstrap });
const topic = `first-${Date.now()}`;
const ready = await createBenchTopic(admin, topic, 10);
const producer = new Producer({ bootstrap, acks: 'all', idempotent: true, lingerMs: 0 });
await producer.send({ topic, value: 'warm', partition: 0 });
const t0 = performance.now();
const out: string[] = [];
for (let i = 0; i < 300; i++) {
  const s = performance.now();
  await producer.send({ topic, value: `v${i}`, partition: i % 10 });
  const ms = performance.now() - s;
  if (ms > 3) out.push(`#${i} p${i % 10} at ${(s - t0).toFixed(0)}ms: ${ms.toFixed(1)}ms`);
}
console.log(`ready ${ready.toFixed(2)} s; slow sends (>3 ms) of 300:`, out.length, out.slice(0, 30).join(' | '));
await producer.close();
await admin.deleteTopic(topic);
process.exit(0);
