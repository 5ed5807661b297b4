// Issue 8: Prometheus metrics on real processes. A paused follower (SIGSTOP) leaves the ISR after
// replica.lag.time.max.ms (10 s): its leader's under-replicated gauge goes above 0 (ISR smaller
// than the replica set), and back to 0 once the follower is resumed and has caught up.
// `tributary watch` shows the same state, on the same cluster, through the client only.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Producer } from '@tributary/client';
import { run } from '@tributary/cli';
import { localPause, localResume, localStatus } from '@tributary/launcher';
import { eventually } from '@tributary/testkit';
import { partitionInfo, startTestCluster, type TestCluster } from '../src/index.ts';

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one sample: `name{labels} value`, the labels given as a subset. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return undefined;
}

describe('metrics', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('every process answers Prometheus text with the operator metrics, labelled by broker and rack', async () => {
    await cluster.admin.createTopic({ name: 'demo', partitions: 6, replicationFactor: 3 });
    const producer = new Producer({ bootstrap: cluster.bootstrap, acks: 'all' });
    await Promise.all(Array.from({ length: 60 }, (_, i) => producer.send({ topic: 'demo', partition: i % 6, value: `v${i}` })));
    await producer.close();

    const broker = await scrape(cluster.brokerPorts[0]!);
    expect(broker.startsWith('# HELP ')).toBe(true);
    for (const name of [
      'tributary_under_replicated_partitions',
      'tributary_under_min_isr_partitions',
      'tributary_offline_partitions',
      'tributary_leader_count',
      'tributary_partition_count',
      'tributary_max_follower_lag_records',
      'tributary_max_follower_lag_ms',
      'tributary_isr_shrinks_total',
      'tributary_isr_expands_total',
      'tributary_bytes_in_total',
      'tributary_bytes_out_total',
      'tributary_log_size_bytes',
      'tributary_high_watermark',
      'tributary_log_end_offset',
      'tributary_broker_process_cpu_user_seconds_total',
    ]) {
      expect(broker, name).toContain(`\n${name}{`);
    }
    expect(sample(broker, 'tributary_leader_count', { broker_id: '0', rack: 'rack-1' })).toBe(1);
    expect(sample(broker, 'tributary_partition_count', { broker_id: '0' })).toBe(3);
    expect(sample(broker, 'tributary_requests_total', { api: 'produce', error: 'none', broker_id: '0' })).toBeGreaterThan(0);
    expect(sample(broker, 'tributary_request_latency_seconds_count', { api: 'produce_acks_all' })).toBeGreaterThan(0);
    expect(sample(broker, 'tributary_request_latency_seconds_count', { api: 'replica_fetch' })).toBeGreaterThan(0);
    // Partition 0 is led by broker 0 (the seed's placement of demo); acks=all: its HW is every record sent to it.
    expect(sample(broker, 'tributary_high_watermark', { topic: 'demo', partition: '0' })).toBe(10);
    expect(sample(broker, 'tributary_log_end_offset', { topic: 'demo', partition: '0' })).toBe(10);

    const controller = await scrape(cluster.controllerPort);
    expect(controller.startsWith('# HELP ')).toBe(true);
    expect(sample(controller, 'tributary_active_controller_count')).toBe(1);
    expect(sample(controller, 'tributary_fenced_broker_count')).toBe(0);
    expect(sample(controller, 'tributary_active_broker_count')).toBe(6);
    expect(sample(controller, 'tributary_offline_partitions_count')).toBe(0);
    expect(sample(controller, 'tributary_cluster_under_replicated_partitions')).toBe(0);
    expect(controller).toContain('\ntributary_controller_process_cpu_user_seconds_total ');
  });

  it('a paused follower makes its leader report an under-replicated partition after the 10 s lag rule, and 0 again after resume', async () => {
    await cluster.admin.createTopic({ name: 'lagging', partitions: 1, replicationFactor: 3 });
    const info = await partitionInfo(cluster.admin, 'lagging', 0);
    const leader = info.leader;
    const follower = info.replicas[2]!;
    const leaderPort = cluster.brokerPorts[leader]!;
    const underReplicated = async () => sample(await scrape(leaderPort), 'tributary_under_replicated_partitions', { broker_id: String(leader) });
    expect(await underReplicated()).toBe(0);
    const shrinksBefore = sample(await scrape(leaderPort), 'tributary_isr_shrinks_total') ?? 0;

    await localPause(cluster.dataDir, String(follower));
    try {
      await eventually(async () => ((await underReplicated()) ?? 0) > 0, { timeoutMs: 30_000, intervalMs: 250 });
      const text = await scrape(leaderPort);
      expect(sample(text, 'tributary_isr_shrinks_total')).toBeGreaterThan(shrinksBefore);
      // RF 3, min ISR 2: one follower out is under-replicated but not under min ISR.
      expect(sample(text, 'tributary_under_min_isr_partitions', { broker_id: String(leader) })).toBe(0);
      expect(sample(await scrape(cluster.controllerPort), 'tributary_cluster_under_replicated_partitions')).toBeGreaterThan(0);

      // `tributary watch` sees it too: the paused follower marked out of sync, the partition listed.
      const lines: string[] = [];
      const code = await run(['watch', 'lagging', '--iterations', '1', '--bootstrap', cluster.bootstrap.join(',')], {
        out: (l) => lines.push(l),
        err: (l) => lines.push(l),
      });
      expect(code, lines.join('\n')).toBe(0);
      expect(lines.join('\n')).toMatch(new RegExp(`B${follower}( \\(fenced\\))?\\s+leads -\\s+follows P0\\*`));
      expect(lines.join('\n')).toContain('lagging-0  under-replicated');
    } finally {
      if (localStatus(cluster.dataDir).processes.some((p) => p.name === `broker-${follower}` && p.status === 'paused')) {
        await localResume(cluster.dataDir, String(follower));
      }
    }
    await eventually(async () => (await underReplicated()) === 0, { timeoutMs: 30_000, intervalMs: 250 });
    expect(sample(await scrape(leaderPort), 'tributary_isr_expands_total')).toBeGreaterThan(0);
  });
});
