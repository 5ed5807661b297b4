import { Admin } from '@tributary/client';
const bootstrap = process.argv[2] ?? '127.0.0.1:31002';
const rounds = Number(process.argv[3] ?? 3);
const admin = new Admin({ bootstrap });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (let round = 0; round < rounds; round++) {
  const name = `ready-${Date.now()}`;
  const t0 = performance.now();
  await admin.createTopic({ name, partitions: 10000, replicationFactor: 3, configs: { 'min.insync.replicas': 2 }, timeoutMs: 120_000 });
  const tc = performance.now() - t0;
  let line = `round ${round}: created ${(tc / 1000).toFixed(2)} s;`;
  for (;;) {
    const d = await admin.describeTopicVerbose(name);
    const withLeader = d.partitions.filter((p) => p.error === undefined && p.replicaStates !== undefined).length;
    const fetched = d.partitions.filter((p) => p.replicaStates?.length === p.replicas.length && p.replicaStates.every((r) => r.logEndOffset >= 0)).length;
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    line += ` ${s}:${withLeader}/${fetched}`;
    if (fetched === 10000) break;
    await sleep(1000);
  }
  console.log(line);
  await admin.deleteTopic(name);
  await sleep(8000);
}
await admin.close?.();
process.exit(0);
