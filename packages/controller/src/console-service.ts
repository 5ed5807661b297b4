// The web console's edge, on the controller's own fastify app (no second server): `GET /ui` (the
// page), `/ui/console.css` and `/ui/console.js` (plain files from src/ui, no build step), a JSON
// snapshot (`GET /ui/snapshot[?topic=T]`) and a Server-Sent Events feed (`GET /ui/events
// [?topic=T]`) that pushes the view on every metadata commit, for the chosen topic each leader's
// high watermark and follower lag once a second, and the charts (bytes/s per broker, the event
// timeline) once a second.
//
// The controller's service speaks msgpack (its reply serializer and content-type hook turn every
// payload into msgpack), so these routes take the raw response over (`reply.hijack()`) and
// answer text/html, text/css, text/javascript, application/json and text/event-stream
// explicitly. HW, lag and bytes/s are not controller state: they come from the brokers'
// `/describe-replicas` and `/metrics`, and are asked only while a console is open.
//
// Nothing a broker does may stall the page. Every broker is asked in parallel with a short
// deadline; a topic's numbers are sent once every leader answered or after `statsAnswerWaitMs`,
// whichever comes first, with a leader that has not answered shown as unknown (a late answer is
// sent when it arrives); a call still in flight is shared, never repeated, so a paused broker
// holds at most one call per topic and one /metrics call.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { NO_LEADER, type BrokerId, type BrokerRegistration, type DescribeReplicasResponse, type Endpoint } from '@tributary/protocol';
import { RpcClientPool, type TlsClientOptions } from '@tributary/transport/client';
import type { FastifyInstance, FastifyReply } from '@tributary/transport/server';
import type { ClusterController } from './cluster-controller.ts';
import { consoleEvents, type ConsoleEvent } from './console-events.ts';
import { consoleGroups, parseGroupMetrics, type ConsoleGroup, type GroupMetricsSample } from './console-groups.ts';
import { consoleTimeline, type TimelineView } from './console-timeline.ts';
import { ThroughputState, chartStartMs, parseBrokerCounters, type BrokerCounters, type ThroughputView } from './console-throughput.ts';
import { consoleStats, consoleView, type ConsoleStats, type ConsoleView, type ReplicaStatesAnswer } from './console-view.ts';

/** src/ui beside this file; in the bundle (scripts/build.ts), dist/ui beside controller.mjs. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};

/**
 * Where the console reaches a broker's client routes (/describe-replicas, /metrics): the
 * listener the broker registered for the controller's network (broker-N:9092 in compose).
 */
export function brokerClientEndpoint(broker: BrokerRegistration): Endpoint {
  return broker.internal;
}

/** The charts' data as the page gets it (`charts` events, and in snapshots). */
export interface ConsoleCharts {
  timeMs: number;
  throughput: ThroughputView;
  timeline: TimelineView;
  /** Consumer groups with their lag on the topic shown, from the same /metrics answers. */
  groups: ConsoleGroup[];
}

export interface ConsoleOptions {
  controller: ClusterController;
  logger: Logger;
  /** TLS (and the controller's certificate) for its calls to the brokers, in a secure cluster. */
  tls?: TlsClientOptions;
  now?: () => number;
  uiDir?: string;
  /** How often the watched topics' HW and lag are asked from their leaders. Default 1000. */
  statsIntervalMs?: number;
  /** Deadline of one /describe-replicas call; below the interval, so calls never pile up. Default 800. */
  statsTimeoutMs?: number;
  /** How long a topic's numbers wait for its slowest leader before it is drawn as unknown. Default 250. */
  statsAnswerWaitMs?: number;
  /** Connections per broker for describe-replicas (calls beyond them queue, each within its deadline). Default 2. */
  statsConnectionsMax?: number;
  /** How often every broker's byte counters are read for the charts. Default 1000. */
  throughputIntervalMs?: number;
  /** Deadline of one /metrics call. Default 800. */
  throughputTimeoutMs?: number;
  /** How far back the charts reach. Default 300000 (5 minutes). */
  chartWindowMs?: number;
  /** The charts' shortest time axis, while they have less to show. Default 60000. */
  chartSpanMinMs?: number;
  /** Timeline marks of one kind on one broker's lane within this long are drawn as one. Default 2000. */
  timelineBucketMs?: number;
  /** Events kept for the timeline. Default 200. */
  eventsMax?: number;
  /** Open event streams. Default 64. */
  clientsMax?: number;
  /** Topics whose stats are polled at once. Default 16. */
  watchedTopicsMax?: number;
  /** Unsent bytes a slow stream may hold before it is dropped (it reconnects). Default 1 MiB. */
  streamBufferBytesMax?: number;
  /** A comment line keeps idle streams open through proxies. Default 15000. */
  keepAliveMs?: number;
}

export interface ConsoleHandle {
  events(): readonly ConsoleEvent[];
  streams(): number;
  /** Calls to brokers in flight (describe-replicas and /metrics), for tests. */
  callsInFlight(): number;
  close(): void;
}

interface Stream {
  reply: FastifyReply;
  topic: string | undefined;
}

export function registerConsoleRoutes(app: FastifyInstance, options: ConsoleOptions): ConsoleHandle {
  const { controller } = options;
  const logger = options.logger.child({ module: 'console' });
  const now = options.now ?? Date.now;
  const uiDir = options.uiDir ?? DEFAULT_UI_DIR;
  const statsIntervalMs = options.statsIntervalMs ?? 1000;
  const statsTimeoutMs = options.statsTimeoutMs ?? 800;
  const statsAnswerWaitMs = options.statsAnswerWaitMs ?? 250;
  const statsConnectionsMax = options.statsConnectionsMax ?? 2;
  const throughputIntervalMs = options.throughputIntervalMs ?? 1000;
  const throughputTimeoutMs = options.throughputTimeoutMs ?? 800;
  const chartWindowMs = options.chartWindowMs ?? 300_000;
  const chartSpanMinMs = options.chartSpanMinMs ?? 60_000;
  const timelineBucketMs = options.timelineBucketMs ?? 2000;
  const eventsMax = options.eventsMax ?? 200;
  const clientsMax = options.clientsMax ?? 64;
  const watchedTopicsMax = options.watchedTopicsMax ?? 16;
  const streamBufferBytesMax = options.streamBufferBytesMax ?? 1024 * 1024;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  const events: ConsoleEvent[] = [];
  const streams = new Set<Stream>();
  // Two pools, so a slow /metrics text never queues a describe-replicas behind it.
  const tls = options.tls === undefined ? {} : { tls: options.tls };
  const rpc = new RpcClientPool({ connectionsMax: statsConnectionsMax, timeoutMs: statsTimeoutMs, connectTimeoutMs: statsTimeoutMs, ...tls });
  const metricsRpc = new RpcClientPool({ connectionsMax: 1, timeoutMs: throughputTimeoutMs, connectTimeoutMs: throughputTimeoutMs, ...tls });
  /** describe-replicas calls in flight by `broker/topic`: at most brokers × watchedTopicsMax. */
  const describing = new Map<string, Promise<DescribeReplicasResponse | Error>>();
  /** /metrics calls in flight by broker. */
  const sampling = new Map<BrokerId, Promise<BrokerCounters | Error>>();
  /** Each broker's last group and high-watermark lines (console-groups.ts), kept until it answers again. */
  const groupSamples = new Map<BrokerId, GroupMetricsSample>();
  const throughput = new ThroughputState({
    windowMs: chartWindowMs,
    samplesMax: Math.ceil(chartWindowMs / throughputIntervalMs) + 2,
    // A round starts at most an interval plus a deadline after the one before (a round is never
    // doubled); twice that is a hole in the sampling, not a slow round.
    sampleGapMaxMs: 2 * (throughputIntervalMs + throughputTimeoutMs),
  });
  /** Per watched topic, the round whose numbers were sent last (a late answer of an older round is not sent over a newer one). */
  const statsDelivered = new Map<string, number>();
  let statsRound = 0;
  let pending: ConsoleEvent[] = [];
  let flushScheduled = false;
  let statsTimer: NodeJS.Timeout | undefined;
  let throughputTimer: NodeJS.Timeout | undefined;
  let throughputRunning = false;
  let lastSampleMs = -Infinity;
  let closed = false;
  let viewCache: ConsoleView | undefined;

  const view = (): ConsoleView => {
    const metadata = controller.metadata();
    if (viewCache?.version !== metadata.version) viewCache = consoleView(metadata);
    return viewCache;
  };

  const unsubscribe = controller.subscribe((applied) => {
    const fresh = consoleEvents(applied, { timeMs: now(), versionAfter: controller.version, rackOf: (id) => controller.state.brokers.get(id)?.rack });
    events.push(...fresh);
    if (events.length > eventsMax) events.splice(0, events.length - eventsMax);
    if (streams.size === 0) return;
    pending.push(...fresh);
    // One commit of many records, or several commits in one tick, make one update.
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });
  const keepAlive = setInterval(() => {
    for (const s of streams) write(s, ': keep-alive\n\n');
  }, keepAliveMs);
  keepAlive.unref();

  function flush(): void {
    flushScheduled = false;
    if (closed) return;
    const data = JSON.stringify({ view: view(), events: pending });
    pending = [];
    for (const s of streams) send(s, 'update', data);
    // The timeline has new marks, and a new leader has other numbers: both now, not at the next tick.
    pushCharts();
    if (statsTimer !== undefined) pollStats();
  }

  function send(stream: Stream, event: string, data: string): void {
    write(stream, `event: ${event}\ndata: ${data}\n\n`);
  }

  function write(stream: Stream, text: string): void {
    const raw = stream.reply.raw;
    if (raw.destroyed || raw.writableEnded) return;
    if (raw.writableLength > streamBufferBytesMax) {
      // A reader that does not keep up is dropped; the browser reconnects and gets a snapshot.
      logger.warn({ bufferedBytes: raw.writableLength }, 'console stream too slow; closing it');
      raw.end();
      return;
    }
    raw.write(text);
  }

  function watchedTopics(): string[] {
    const topics = new Set<string>();
    for (const s of streams) if (s.topic !== undefined) topics.add(s.topic);
    return [...topics].slice(0, watchedTopicsMax);
  }

  function updateTimers(): void {
    const wantStats = !closed && watchedTopics().length > 0;
    if (wantStats && statsTimer === undefined) {
      statsTimer = setInterval(pollStats, statsIntervalMs);
      statsTimer.unref();
    } else if (!wantStats && statsTimer !== undefined) {
      clearInterval(statsTimer);
      statsTimer = undefined;
    }
    // Bytes/s are sampled while anyone watches; the last minutes stay for the next viewer.
    const wantThroughput = !closed && streams.size > 0;
    if (wantThroughput && throughputTimer === undefined) {
      throughputTimer = setInterval(() => void sampleThroughput(), throughputIntervalMs);
      throughputTimer.unref();
      void sampleThroughput();
    } else if (!wantThroughput && throughputTimer !== undefined) {
      clearInterval(throughputTimer);
      throughputTimer = undefined;
    }
  }

  /** One describe-replicas call per broker and topic at a time; a second asker shares the first's. */
  function describe(broker: BrokerRegistration, topic: string): Promise<DescribeReplicasResponse | Error> {
    const key = `${broker.id}/${topic}`;
    let call = describing.get(key);
    if (call === undefined) {
      call = rpc
        .get(brokerClientEndpoint(broker))
        .call<DescribeReplicasResponse>('/describe-replicas', { topic })
        .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
        .finally(() => describing.delete(key));
      describing.set(key, call);
    }
    return call;
  }

  /**
   * Asks each leader of the topic (one call per leader, all of the topic's partitions) and draws
   * the numbers once every leader answered or after statsAnswerWaitMs, the silent ones unknown;
   * then again for each late answer with numbers, as it arrives. False if there is no such topic.
   */
  function askTopic(topic: string, deliver: (stats: ConsoleStats) => void): boolean {
    const metadata = controller.metadata();
    const t = metadata.topics.find((x) => x.name === topic);
    if (t === undefined) return false;
    const answers = new Map<BrokerId, ReplicaStatesAnswer>();
    const draw = () => consoleStats(topic, now(), t.partitions, answers, statsAnswerWaitMs);
    let drawn = false;
    const calls: Promise<void>[] = [];
    for (const id of new Set(t.partitions.map((p) => p.leader))) {
      if (id === NO_LEADER) continue;
      const broker = metadata.brokers.find((b) => b.id === id);
      if (broker === undefined) continue;
      answers.set(id, 'pending');
      calls.push(
        describe(broker, topic).then((answer) => {
          answers.set(id, answer);
          // A late error adds nothing to "has not answered"; late numbers are worth drawing now,
          // not after the slowest leader's deadline.
          if (drawn && !(answer instanceof Error)) deliver(draw());
        }),
      );
    }
    void within(Promise.all(calls), statsAnswerWaitMs).then(() => {
      drawn = true;
      deliver(draw());
    });
    return true;
  }

  function pollStats(): void {
    const topics = watchedTopics();
    for (const topic of statsDelivered.keys()) if (!topics.includes(topic)) statsDelivered.delete(topic);
    for (const topic of topics) pollTopic(topic);
  }

  function pollTopic(topic: string, only?: Stream): void {
    const round = ++statsRound;
    askTopic(topic, (stats) => deliverStats(topic, round, stats, only));
  }

  function deliverStats(topic: string, round: number, stats: ConsoleStats, only: Stream | undefined): void {
    if (closed) return;
    if (round < (statsDelivered.get(topic) ?? 0)) return;
    statsDelivered.set(topic, round);
    const data = JSON.stringify(stats);
    for (const s of only ? [only] : streams) if (s.topic === topic) send(s, 'stats', data);
  }

  /** Reads every registered broker's byte counters at once, records the round, pushes the charts. */
  async function sampleThroughput(): Promise<void> {
    // A round takes at most the deadline, below the interval; one still running is not doubled.
    if (throughputRunning || closed) return;
    throughputRunning = true;
    try {
      const timeMs = now();
      const answers = new Map<BrokerId, BrokerCounters | Error>();
      await Promise.all(controller.metadata().brokers.map(async (b) => void answers.set(b.id, await counters(b))));
      if (closed || timeMs <= lastSampleMs) return;
      lastSampleMs = timeMs;
      throughput.record(timeMs, answers);
      pushCharts();
    } finally {
      throughputRunning = false;
    }
  }

  function counters(broker: BrokerRegistration): Promise<BrokerCounters | Error> {
    let call = sampling.get(broker.id);
    if (call === undefined) {
      call = metricsRpc
        .get(brokerClientEndpoint(broker))
        .getText('/metrics')
        .then(({ status, text }) => {
          if (status !== 200) throw new Error(`/metrics answered HTTP ${status}`);
          const counted = parseBrokerCounters(text, broker.id);
          groupSamples.set(broker.id, parseGroupMetrics(text));
          return counted;
        })
        .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
        .finally(() => sampling.delete(broker.id));
      sampling.set(broker.id, call);
    }
    return call;
  }

  /** The charts' time axis and bytes/s now, shared by every topic's charts. */
  function chartsBase(): { timeMs: number; startMs: number; throughputView: ThroughputView } {
    const timeMs = now();
    const startMs = chartStartMs(timeMs, { windowMs: chartWindowMs, spanMinMs: chartSpanMinMs }, [throughput.oldestMs(), events[0]?.timeMs]);
    return { timeMs, startMs, throughputView: throughput.view(timeMs, view().order, startMs) };
  }

  function charts(topic: string | undefined, { timeMs, startMs, throughputView }: ReturnType<typeof chartsBase>): ConsoleCharts {
    const v = view();
    const byId = new Map(v.racks.flatMap((r) => r.brokers).map((b) => [b.id, b]));
    const brokers = v.order.map((id) => {
      const b = byId.get(id);
      return { id, label: `${b?.rack ?? '?'}/B${id}`, fenced: b === undefined || !b.alive };
    });
    return {
      timeMs,
      throughput: throughputView,
      timeline: consoleTimeline(events, { nowMs: timeMs, startMs, bucketMs: timelineBucketMs, brokers, ...(topic === undefined ? {} : { topic }) }),
      // Brokers no longer registered are left out: their numbers are from before they went.
      groups: consoleGroups(
        [...groupSamples].filter(([id]) => byId.has(id)).map(([, sample]) => sample),
        topic,
      ),
    };
  }

  function pushCharts(): void {
    if (closed || streams.size === 0) return;
    const base = chartsBase();
    // One JSON text per topic shown, however many streams show it.
    const texts = new Map<string | undefined, string>();
    for (const s of streams) {
      let data = texts.get(s.topic);
      if (data === undefined) {
        data = JSON.stringify(charts(s.topic, base));
        texts.set(s.topic, data);
      }
      send(s, 'charts', data);
    }
  }

  /** The charts for one topic now (snapshots). */
  function chartsNow(topic: string | undefined): ConsoleCharts {
    return charts(topic, chartsBase());
  }

  function answer(reply: FastifyReply, status: number, type: string, body: string | Buffer): void {
    reply.hijack();
    reply.raw.writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    reply.raw.end(body);
  }

  function topicParam(query: unknown): string | undefined {
    const topic = (query as Record<string, unknown> | undefined)?.topic;
    return typeof topic === 'string' && topic.length > 0 && topic.length <= 249 ? topic : undefined;
  }

  async function file(reply: FastifyReply, name: string): Promise<void> {
    try {
      answer(reply, 200, FILES[name]!, await readFile(join(uiDir, name)));
    } catch (err) {
      logger.error({ err, uiDir, file: name }, 'console file missing');
      answer(reply, 500, 'text/plain; charset=utf-8', `console file ${name} is missing from ${uiDir}\n`);
    }
  }

  app.get('/ui', (_request, reply) => file(reply, 'index.html'));
  app.get('/ui/', (_request, reply) => file(reply, 'index.html'));
  app.get('/ui/console.css', (_request, reply) => file(reply, 'console.css'));
  app.get('/ui/console.js', (_request, reply) => file(reply, 'console.js'));

  app.get('/ui/snapshot', async (request, reply) => {
    const topic = topicParam(request.query);
    // Bounded by statsAnswerWaitMs: a paused leader's partitions come back unknown, not late.
    const stats =
      topic === undefined
        ? undefined
        : await new Promise<ConsoleStats | undefined>((resolve) => {
            if (!askTopic(topic, resolve)) resolve(undefined);
          });
    answer(reply, 200, 'application/json; charset=utf-8', JSON.stringify({ view: view(), events, ...(stats ? { stats } : {}), charts: chartsNow(topic) }));
  });

  app.get('/ui/events', (request, reply) => {
    if (closed || streams.size >= clientsMax) {
      answer(reply, 503, 'text/plain; charset=utf-8', `too many console streams (at most ${clientsMax})\n`);
      return;
    }
    const stream: Stream = { reply, topic: topicParam(request.query) };
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // The browser reconnects a second after a lost stream (a controller restart).
    reply.raw.write('retry: 1000\n\n');
    streams.add(stream);
    reply.raw.on('close', () => {
      streams.delete(stream);
      updateTimers();
    });
    // Events still queued for the next update arrive with it, not twice.
    send(
      stream,
      'snapshot',
      JSON.stringify({ view: view(), events: events.slice(0, Math.max(0, events.length - pending.length)), charts: chartsNow(stream.topic) }),
    );
    updateTimers();
    if (stream.topic !== undefined) pollTopic(stream.topic, stream);
  });

  const handle: ConsoleHandle = {
    events: () => events,
    streams: () => streams.size,
    callsInFlight: () => describing.size + sampling.size,
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      updateTimers();
      for (const s of streams) s.reply.raw.end();
      streams.clear();
      void rpc.close();
      void metricsRpc.close();
    },
  };
  // Open streams would hold the server's close forever.
  app.addHook('preClose', (done) => {
    handle.close();
    done();
  });
  return handle;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first (the timer does not outlive it). */
function within(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
