import { Admin } from '@tributary/client';
import { createBenchTopic, produceThroughput } from '../src/workload.ts';
import { Progress } from '../src/progress.ts';
import { readFileSync, readdirSync } from 'node:fs';
const bootstrap = process.argv[2] ?? '127.0.0.1:31002';
const parts = Number(process.argv[3] ?? 10000);
const runs = Number(process.argv[4] ?? 3);
const records = Number(process.argv[5] ?? 100000);
const admin = new Admin({ bootstrap });
function clusterCpu(): number {
  let t = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('broker/src/main.ts')) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      t += (Number(f[11]) + Number(f[12])) / 100;
    } catch {}
  }
  return t;
}
const topic = `p-${Date.now()}`;
const ready = await createBenchTopic(admin, topic, parts);
let line = `${parts} partitions ready ${ready.toFixed(1)} s;`;
for (let i = 0; i < runs; i++) {
  const h0 = process.hrtime.bigint() / 1000n;
  const c0 = clusterCpu();
  const r = await produceThroughput(bootstrap, topic, records, { acks: 'all', idempotent: true }, new Progress('p', records));
  const c = clusterCpu() - c0;
  console.log(`between ${h0},${process.hrtime.bigint() / 1000n}`);
  line += ` ${Math.round(r.recordsPerSec)} rec/s (${((c / records) * 1e6).toFixed(1)} µs cpu/rec)`;
}
console.log(line);
await admin.deleteTopic(topic);
process.exit(0);
