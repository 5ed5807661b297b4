// The web console's edge, on the controller's own fastify app (no second server): `GET /ui` (the
// page), `/ui/console.css` and `/ui/console.js` (plain files from src/ui, no build step), a JSON
// snapshot (`GET /ui/snapshot[?topic=T]`) and a Server-Sent Events feed (`GET /ui/events
// [?topic=T]`) that pushes the view on every metadata commit and, for the chosen topic, each
// leader's high watermark and follower lag once a second.
//
// The controller's service speaks msgpack (its reply serializer and content-type hook turn every
// payload into msgpack), so these routes take the raw response over (`reply.hijack()`) and
// answer text/html, text/css, text/javascript, application/json and text/event-stream
// explicitly. HW and lag are not controller state: they come from the leaders' internal
// `/describe-replicas` (the endpoint brokers use among themselves), only while a console watches
// that topic.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { NO_LEADER, type BrokerId, type DescribeReplicasResponse } from '@tributary/protocol';
import { RpcClientPool } from '@tributary/transport/client';
import type { FastifyInstance, FastifyReply } from '@tributary/transport/server';
import type { ClusterController } from './cluster-controller.ts';
import { consoleEvents, type ConsoleEvent } from './console-events.ts';
import { consoleStats, consoleView, type ConsoleStats, type ConsoleView } from './console-view.ts';

/** src/ui beside this file; in the bundle (scripts/build.ts), dist/ui beside controller.mjs. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

const FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};

export interface ConsoleOptions {
  controller: ClusterController;
  logger: Logger;
  now?: () => number;
  uiDir?: string;
  /** How often the watched topics' HW and lag are asked from their leaders. Default 1000. */
  statsIntervalMs?: number;
  /** Deadline of one /describe-replicas call (a paused leader must not stall the feed). Default 900. */
  statsTimeoutMs?: number;
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
  const statsTimeoutMs = options.statsTimeoutMs ?? 900;
  const eventsMax = options.eventsMax ?? 200;
  const clientsMax = options.clientsMax ?? 64;
  const watchedTopicsMax = options.watchedTopicsMax ?? 16;
  const streamBufferBytesMax = options.streamBufferBytesMax ?? 1024 * 1024;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  const events: ConsoleEvent[] = [];
  const streams = new Set<Stream>();
  const rpc = new RpcClientPool({ connectionsMax: 1, timeoutMs: statsTimeoutMs, connectTimeoutMs: statsTimeoutMs });
  let pending: ConsoleEvent[] = [];
  let flushScheduled = false;
  let statsTimer: NodeJS.Timeout | undefined;
  let statsRunning = false;
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
    // A new leader has other numbers: ask at once rather than at the next tick.
    if (statsTimer !== undefined) void pollStats();
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

  function updateStatsTimer(): void {
    const wanted = !closed && watchedTopics().length > 0;
    if (wanted && statsTimer === undefined) {
      statsTimer = setInterval(() => void pollStats(), statsIntervalMs);
      statsTimer.unref();
    } else if (!wanted && statsTimer !== undefined) {
      clearInterval(statsTimer);
      statsTimer = undefined;
    }
  }

  /** Asks each leader of the topic once (one call per leader, all partitions of the topic). */
  async function topicStats(topic: string): Promise<ConsoleStats | undefined> {
    const metadata = controller.metadata();
    const t = metadata.topics.find((x) => x.name === topic);
    if (t === undefined) return undefined;
    const leaders = new Set(t.partitions.map((p) => p.leader).filter((id) => id !== NO_LEADER));
    const answers = new Map<BrokerId, DescribeReplicasResponse | Error>();
    await Promise.all(
      [...leaders].map(async (id) => {
        const broker = metadata.brokers.find((b) => b.id === id);
        if (broker === undefined) return;
        try {
          answers.set(id, await rpc.get(broker.internal).call<DescribeReplicasResponse>('/describe-replicas', { topic }));
        } catch (err) {
          answers.set(id, err as Error);
        }
      }),
    );
    return consoleStats(topic, now(), t.partitions, answers);
  }

  async function pollStats(only?: Stream): Promise<void> {
    if (only === undefined) {
      if (statsRunning) return;
      statsRunning = true;
    }
    try {
      const topics = only?.topic !== undefined ? [only.topic] : watchedTopics();
      for (const topic of topics) {
        const stats = await topicStats(topic);
        if (stats === undefined || closed) continue;
        const data = JSON.stringify(stats);
        for (const s of only ? [only] : streams) if (s.topic === topic) send(s, 'stats', data);
      }
    } finally {
      if (only === undefined) statsRunning = false;
    }
  }

  function answer(reply: FastifyReply, status: number, type: string, body: string | Buffer): void {
    reply.hijack();
    reply.raw.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    reply.raw.end(body);
  }

  function topicParam(query: unknown): string | undefined {
    const topic = (query as Record<string, unknown> | undefined)?.['topic'];
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
    const stats = topic === undefined ? undefined : await topicStats(topic);
    answer(reply, 200, 'application/json; charset=utf-8', JSON.stringify({ view: view(), events, ...(stats ? { stats } : {}) }));
  });

  app.get('/ui/events', (request, reply) => {
    if (closed || streams.size >= clientsMax) {
      answer(reply, 503, 'text/plain; charset=utf-8', `too many console streams (at most ${clientsMax})\n`);
      return;
    }
    const stream: Stream = { reply, topic: topicParam(request.query) };
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // The browser reconnects a second after a lost stream (a controller restart).
    reply.raw.write('retry: 1000\n\n');
    streams.add(stream);
    reply.raw.on('close', () => {
      streams.delete(stream);
      updateStatsTimer();
    });
    // Events still queued for the next update arrive with it, not twice.
    send(stream, 'snapshot', JSON.stringify({ view: view(), events: events.slice(0, Math.max(0, events.length - pending.length)) }));
    updateStatsTimer();
    if (stream.topic !== undefined) void pollStats(stream);
  });

  const handle: ConsoleHandle = {
    events: () => events,
    streams: () => streams.size,
    close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      updateStatsTimer();
      for (const s of streams) s.reply.raw.end();
      streams.clear();
      void rpc.close();
    },
  };
  // Open streams would hold the server's close forever.
  app.addHook('preClose', (done) => {
    handle.close();
    done();
  });
  return handle;
}
