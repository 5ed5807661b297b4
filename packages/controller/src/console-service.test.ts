import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { DescribeReplicasResponse } from '@tributary/protocol';
import { PROMETHEUS_CONTENT_TYPE, createMsgpackServer } from '@tributary/transport/server';
import { eventually } from '@tributary/testkit';
import { ClusterController } from './cluster-controller.ts';
import type { ConsoleCharts, ConsoleOptions } from './console-service.ts';
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

async function start(consoleOptions: Partial<ConsoleOptions> = {}): Promise<{ controller: ClusterController; service: ControllerService; base: string }> {
  let n = 0;
  const controller = new ClusterController({
    log: new MemoryMetadataLog(),
    logger,
    newId: () => `id-${n++}`,
    clusterId: 'ui-test',
    sessionTimeoutMs: 3000,
    autoLeaderRebalanceEnable: false,
  });
  const service = createControllerService({ controller, logger, console: { statsIntervalMs: 100, keepAliveMs: 50, ...consoleOptions } });
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
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
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

  it("streams a snapshot, then every change, and the leaders' HW and lag for the watched topic", async () => {
    const { controller, service, base } = await start();
    // A stand-in broker answering /describe-replicas on its internal listener.
    const fake = createMsgpackServer({});
    fake.post(
      '/describe-replicas',
      async (): Promise<DescribeReplicasResponse> => ({
        partitions: [
          {
            partition: 0,
            highWatermark: 5,
            logStartOffset: 0,
            logEndOffset: 8,
            logSizeBytes: 800,
            replicas: [
              { brokerId: 0, logEndOffset: 8, lagRecords: 0, lastCaughtUpMsAgo: 0 },
              { brokerId: 1, logEndOffset: 5, lagRecords: 3, lastCaughtUpMsAgo: 2500 },
            ],
          },
        ],
      }),
    );
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

    // On a loaded machine a first drawing may come before the leader's answer (unknown); the numbers follow.
    const stats = await eventually(
      () =>
        stream.events
          .filter((e) => e.event === 'stats')
          .map((e) => e.data as ConsoleStats)
          .find((d) => d.partitions[0]?.highWatermark !== undefined) ?? false,
      { timeoutMs: 5000 },
    );
    expect(stats.partitions).toEqual([
      { partition: 0, leader: 0, highWatermark: 5, logEndOffset: 8, lag: [{ brokerId: 1, records: 3, msSinceCaughtUp: 2500 }] },
    ]);

    controller.alterPartition({
      brokerId: 0,
      brokerEpoch: controller.state.brokers.get(0)!.epoch,
      topic: 'demo',
      partition: 0,
      leaderEpoch: 0,
      partitionEpoch: controller.state.partition('demo', 0)!.partitionEpoch,
      newIsr: [0],
    });
    const update = await eventually(
      () => (stream.events.find((e) => e.event === 'update')?.data as { view: ConsoleView; events: ConsoleEvent[] } | undefined) ?? false,
      { timeoutMs: 5000 },
    );
    expect(update.events.map((e) => e.text)).toEqual(['demo-0: ISR shrank, B1 left (ISR 0,1 -> 0)']);
    expect(update.view.topics[0]!.partitions[0]!.status).toEqual(['under-replicated', 'under-min-isr']);

    // Closing the controller ends open streams instead of hanging on them.
    await service.close();
    await eventually(() => service.console!.streams() === 0, { timeoutMs: 5000 });
  });
});

/**
 * A broker that answers describe-replicas for its partition (= its id) of any topic, after
 * `answerDelayMs` (a loaded broker), and /metrics at once with growing counters.
 */
async function answeringBroker(brokerId: number, answerDelayMs = 0): Promise<number> {
  const server = createMsgpackServer({});
  let scrapes = 0;
  server.post('/describe-replicas', async (): Promise<DescribeReplicasResponse> => {
    if (answerDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, answerDelayMs));
    return {
      partitions: [
        {
          partition: brokerId,
          highWatermark: 5,
          logStartOffset: 0,
          logEndOffset: 5,
          logSizeBytes: 500,
          replicas: [{ brokerId, logEndOffset: 5, lagRecords: 0, lastCaughtUpMsAgo: 0 }],
        },
      ],
    };
  });
  server.get('/metrics', async (_request, reply) => {
    scrapes++;
    const labels = `{broker_id="${brokerId}",rack="rack-1"}`;
    const text = `tributary_bytes_in_total${labels} ${scrapes * 1000}\ntributary_replication_bytes_in_total${labels} 0\n`;
    return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(Buffer.from(text));
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  return (server.server.address() as { port: number }).port;
}

/**
 * What a SIGSTOPped broker looks like from outside: the kernel accepts connections, nothing
 * answers. Counts the requests it was sent.
 */
async function silentBroker(): Promise<{ port: number; requests: (path: string) => number }> {
  const sockets = new Set<Socket>();
  const seen: string[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (chunk) => seen.push(...[...chunk.toString('latin1').matchAll(/^(?:GET|POST) (\S+) HTTP/gm)].map((m) => m[1]!)));
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, requests: (path) => seen.filter((p) => p === path).length };
}

describe('web console with a paused broker', () => {
  it("draws a silent leader as unknown at once, a slow one as soon as it answers, keeps every topic's numbers coming, and asks each once at a time", async () => {
    // Deadlines far longer than the test: only not waiting for the silent broker makes it pass.
    // Connections enough for a call per tick and topic, so a repeated call would reach the broker and be counted.
    const { controller, service, base } = await start({
      statsIntervalMs: 100,
      statsTimeoutMs: 60_000,
      statsAnswerWaitMs: 100,
      statsConnectionsMax: 16,
      throughputIntervalMs: 100,
      throughputTimeoutMs: 300,
    });
    const answering = await answeringBroker(0);
    const silent = await silentBroker();
    const slow = await answeringBroker(2, 400);
    controller.registerBroker({ ...registration(0, 'rack-1'), internal: { host: '127.0.0.1', port: answering } });
    controller.registerBroker({ ...registration(1, 'rack-1'), internal: { host: '127.0.0.1', port: silent.port } });
    controller.registerBroker({ ...registration(2, 'rack-1'), internal: { host: '127.0.0.1', port: slow } });
    // Closers run last-first: the console stops asking before the brokers close (a busy broker never goes idle).
    closers.push(() => service.close());
    // Names whose start index (placement.ts, hashed from the name) is 0 on three brokers.
    const topics = ['t0', 't3', 't5'];
    // Three partitions, one replica each: P0 led by B0 (answers), P1 by B1 (silent), P2 by B2 (answers after 400 ms).
    for (const name of topics) controller.createTopic({ name, partitions: 3, replicationFactor: 1 });

    const abort = new AbortController();
    closers.push(async () => abort.abort());
    const streams = await Promise.all(topics.map(async (t) => readEvents(await fetch(`${base}/ui/events?topic=${t}`, { signal: abort.signal }))));
    const statsOf = (i: number) => streams[i]!.events.filter((e) => e.event === 'stats').map((e) => e.data as ConsoleStats);

    const silentP1 = { partition: 1, leader: 1, unknown: 'leader B1 has not answered within 100 ms' };
    for (const [i, topic] of topics.entries()) {
      // First drawn without waiting for the slow B2, then B2's numbers as they arrive: never after B1's deadline.
      const first = await eventually(() => statsOf(i)[0] ?? false, { timeoutMs: 5000 });
      expect(first.topic).toBe(topic);
      expect(first.partitions.slice(1)).toEqual([silentP1, { partition: 2, leader: 2, unknown: 'leader B2 has not answered within 100 ms' }]);
      const answered = await eventually(() => statsOf(i).find((d) => d.partitions.every((p) => p.partition === 1 || p.highWatermark !== undefined)) ?? false, {
        timeoutMs: 5000,
      });
      expect(answered.partitions).toEqual([
        { partition: 0, leader: 0, highWatermark: 5, logEndOffset: 5, lag: [] },
        silentP1,
        { partition: 2, leader: 2, highWatermark: 5, logEndOffset: 5, lag: [] },
      ]);
    }
    // Ticks keep coming while the silent calls hang, and the silent broker holds one call per topic, not one per tick.
    await eventually(() => topics.every((_, i) => statsOf(i).length >= 5), { timeoutMs: 10_000 });
    expect(silent.requests('/describe-replicas')).toBe(topics.length);
    // In flight at most: one describe per broker and topic, one /metrics per broker (never one per tick).
    expect(service.console!.callsInFlight()).toBeLessThanOrEqual(3 * topics.length + 3);

    // The snapshot answers within the answer wait too, not at the call's deadline.
    const snapshot = (await (await fetch(`${base}/ui/snapshot?topic=t3`, { signal: AbortSignal.timeout(5000) })).json()) as {
      stats: ConsoleStats;
      charts: ConsoleCharts;
    };
    expect(snapshot.stats.partitions[1]).toEqual(silentP1);

    // Bytes/s: B0's counter grows 1000 per scrape; B1 never answers its /metrics and is unknown, not zero.
    const charts = await eventually(
      () => {
        const found = streams[0]!.events
          .filter((e) => e.event === 'charts')
          .map((e) => e.data as ConsoleCharts)
          .at(-1);
        const b0 = found?.throughput.brokers.find((b) => b.brokerId === 0);
        return b0?.latest.state === 'ok' && b0.latest.produce > 0 ? found! : false;
      },
      { timeoutMs: 10_000 },
    );
    expect(charts.throughput.brokers.map((b) => b.label)).toEqual(['B0', 'B1', 'B2']);
    expect(charts.throughput.brokers[1]!.latest).toEqual({ state: 'unknown', reason: 'REQUEST_TIMED_OUT', words: 'not answering' });
    expect(charts.throughput.brokers[1]!.produce.every((v) => v === null)).toBe(true);
    expect(silent.requests('/metrics')).toBeGreaterThan(0);
    expect(charts.timeline).toMatchObject({ topic: 't0' });
    expect(charts.timeline.lanes.map((l) => [l.label, l.marks.map((m) => m.kind)])).toEqual([
      ['rack-1/B0', ['alive']],
      ['rack-1/B1', ['alive']],
      ['rack-1/B2', ['alive']],
    ]);
  });

  it("draws a slow leader's numbers when they arrive, not at the silent leader's deadline", async () => {
    // One round only (the stream's first): a later tick cannot pick the slow answer up for it.
    const { controller, service, base } = await start({ statsIntervalMs: 60_000, statsTimeoutMs: 60_000, statsAnswerWaitMs: 100, throughputTimeoutMs: 300 });
    const silent = await silentBroker();
    const slow = await answeringBroker(2, 400);
    controller.registerBroker({ ...registration(0, 'rack-1'), internal: { host: '127.0.0.1', port: silent.port } });
    controller.registerBroker({ ...registration(1, 'rack-1'), internal: { host: '127.0.0.1', port: silent.port } });
    controller.registerBroker({ ...registration(2, 'rack-1'), internal: { host: '127.0.0.1', port: slow } });
    closers.push(() => service.close());
    controller.createTopic({ name: 'demo', partitions: 3, replicationFactor: 1 });
    const abort = new AbortController();
    closers.push(async () => abort.abort());
    const stream = readEvents(await fetch(`${base}/ui/events?topic=demo`, { signal: abort.signal }));
    const stats = () => stream.events.filter((e) => e.event === 'stats').map((e) => e.data as ConsoleStats);
    const first = await eventually(() => stats()[0] ?? false, { timeoutMs: 5000 });
    expect(first.partitions[2]).toEqual({ partition: 2, leader: 2, unknown: 'leader B2 has not answered within 100 ms' });
    const late = await eventually(() => stats()[1] ?? false, { timeoutMs: 5000 });
    expect(late.partitions.map((p) => p.highWatermark ?? p.unknown)).toEqual([
      'leader B0 has not answered within 100 ms',
      'leader B1 has not answered within 100 ms',
      5,
    ]);
  });

  it("pushes the timeline when a broker is fenced, with the stream's topic", async () => {
    const { controller, base } = await start();
    for (const [id, rack] of SEED_BROKERS) controller.registerBroker(registration(id, rack));
    controller.createTopic({ name: 'demo', partitions: 10, replicationFactor: 3 });
    const abort = new AbortController();
    closers.push(async () => abort.abort());
    const stream = readEvents(await fetch(`${base}/ui/events?topic=demo`, { signal: abort.signal }));
    await eventually(() => stream.events.some((e) => e.event === 'snapshot'), { timeoutMs: 5000 });
    const snapshot = stream.events.find((e) => e.event === 'snapshot')!.data as { charts: ConsoleCharts };
    expect(snapshot.charts.timeline.lanes.map((l) => l.brokerId)).toEqual([0, 3, 1, 4, 2, 5]);

    // kill -9 of B0 as the controller sees it: its session expires, the others' stay fresh however slow the machine.
    for (const [id] of SEED_BROKERS) controller.state.touch(id, id === 0 ? -1_000_000 : Date.now() + 60_000);
    controller.checkSessions();
    const charts = await eventually(
      () => {
        const all = stream.events.filter((e) => e.event === 'charts').map((e) => e.data as ConsoleCharts);
        return all.find((c) => c.timeline.lanes[0]!.fencedNow) ?? false;
      },
      { timeoutMs: 5000 },
    );
    const [b0, b3] = charts.timeline.lanes;
    expect(b0!.marks.map((m) => m.kind)).toEqual(['alive', 'fenced', 'isr-out']);
    expect(b0!.fenced).toHaveLength(1);
    expect(b0!.fenced[0]!.open).toBe(true);
    expect(b3!.marks.find((m) => m.kind === 'leader')!.partitions).toEqual([0, 6]);
  });
});
