import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { DescribeReplicasResponse } from '@tributary/protocol';
import { createMsgpackServer } from '@tributary/transport/server';
import { eventually } from '@tributary/testkit';
import { ClusterController } from './cluster-controller.ts';
import type { ConsoleStats, ConsoleView } from './console-view.ts';
import type { ConsoleEvent } from './console-events.ts';
import { createControllerService, type ControllerService } from './controller-service.ts';
import { SEED_BROKERS, registration } from './internal/fixtures.ts';
import { MemoryMetadataLog } from './metadata-log.ts';

const logger = pino({ level: 'silent' });
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function start(): Promise<{ controller: ClusterController; service: ControllerService; base: string }> {
  let n = 0;
  const controller = new ClusterController({ log: new MemoryMetadataLog(), logger, newId: () => `id-${n++}`, clusterId: 'ui-test', sessionTimeoutMs: 3000, autoLeaderRebalanceEnable: false });
  const service = createControllerService({ controller, logger, console: { statsIntervalMs: 100, keepAliveMs: 50 } });
  await service.app.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => service.close());
  const address = service.app.server.address() as { port: number };
  return { controller, service, base: `http://127.0.0.1:${address.port}` };
}

/** Reads a Server-Sent Events stream into a list of { event, data }. */
function readEvents(response: Response): { events: { event: string; data: unknown }[] } {
  const out = { events: [] as { event: string; data: unknown }[] };
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && data !== undefined) out.events.push({ event, data: JSON.parse(data) });
      }
    }
  })();
  return out;
}

describe('web console routes', () => {
  it('serves the page, its script and style with their own content types', async () => {
    const { base } = await start();
    for (const [path, type, text] of [
      ['/ui', 'text/html', '<table id="partitions">'],
      ['/ui/', 'text/html', '<caption'],
      ['/ui/console.js', 'text/javascript', 'EventSource'],
      ['/ui/console.css', 'text/css', 'out-of-sync'],
    ] as const) {
      const res = await fetch(base + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toContain(type);
      expect(await res.text(), path).toContain(text);
    }
    const missing = await fetch(`${base}/ui/nothing.js`);
    expect(missing.status).toBe(404);
  });

  it('answers a JSON snapshot with the seed view and the events so far', async () => {
    const { controller, base } = await start();
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3 });
    const res = await fetch(`${base}/ui/snapshot`);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = (await res.json()) as { view: ConsoleView; events: ConsoleEvent[] };
    expect(body.view.topics[0]!.byBroker[0]).toMatchObject({ label: 'rack-1/B0', leads: [0, 6] });
    expect(body.events.map((e) => e.kind)).toEqual([...SEED_BROKERS.map(() => 'broker-registered'), 'topic-created']);
  });

  it('streams a snapshot, then every change, and the leaders\' HW and lag for the watched topic', async () => {
    const { controller, service, base } = await start();
    // A stand-in broker answering /describe-replicas on its internal listener.
    const fake = createMsgpackServer({});
    fake.post('/describe-replicas', async (): Promise<DescribeReplicasResponse> => ({
      partitions: [{ partition: 0, highWatermark: 5, logStartOffset: 0, logEndOffset: 8, replicas: [{ brokerId: 0, logEndOffset: 8, lagRecords: 0, lastCaughtUpMsAgo: 0 }, { brokerId: 1, logEndOffset: 5, lagRecords: 3, lastCaughtUpMsAgo: 2500 }] }],
    }));
    await fake.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => fake.close());
    const fakePort = (fake.server.address() as { port: number }).port;
    for (const id of [0, 1]) controller.registerBroker({ ...registration(id, 'rack-1'), internal: { host: '127.0.0.1', port: fakePort } });
    controller.createTopic({ name: 'demo', partitions: 1, replicationFactor: 2 });

    const abort = new AbortController();
    closers.push(async () => abort.abort());
    const res = await fetch(`${base}/ui/events?topic=demo`, { signal: abort.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const stream = readEvents(res);
    await eventually(() => stream.events.some((e) => e.event === 'snapshot'), { timeoutMs: 5000 });
    expect(service.console!.streams()).toBe(1);

    const stats = await eventually(() => stream.events.find((e) => e.event === 'stats')?.data as ConsoleStats | undefined ?? false, { timeoutMs: 5000 });
    expect(stats.partitions).toEqual([{ partition: 0, leader: 0, highWatermark: 5, logEndOffset: 8, lag: [{ brokerId: 1, records: 3, msSinceCaughtUp: 2500 }] }]);

    controller.alterPartition({ brokerId: 0, brokerEpoch: controller.state.brokers.get(0)!.epoch, topic: 'demo', partition: 0, leaderEpoch: 0, partitionEpoch: controller.state.partition('demo', 0)!.partitionEpoch, newIsr: [0] });
    const update = await eventually(() => stream.events.find((e) => e.event === 'update')?.data as { view: ConsoleView; events: ConsoleEvent[] } | undefined ?? false, { timeoutMs: 5000 });
    expect(update.events.map((e) => e.text)).toEqual(['demo-0: ISR shrank, B1 left (ISR 0,1 -> 0)']);
    expect(update.view.topics[0]!.partitions[0]!.status).toEqual(['under-replicated', 'under-min-isr']);

    // Closing the controller ends open streams instead of hanging on them.
    await service.close();
    await eventually(() => service.console!.streams() === 0, { timeoutMs: 5000 });
  });
});
