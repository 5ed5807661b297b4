// Abusive requests (issue 16 §4): what a buggy or hostile client can send to any route of any
// process, written byte by byte on raw sockets so that it can lie about lengths, stop half-way
// or trickle. Each kind has a well-behaved answer (DESIGN.md § Limits): a clear 4xx error code,
// or the connection cut off by the server's timeouts; never a 5xx, never a crash, never a
// malformed request accepted. `judgeAbuse` says whether an outcome is one of those.
//
// Used by the abuse suite (packages/e2e/test/abuse.int.test.ts), `pnpm bench --only abuse`, and
// the `garbage` fault of `tributary chaos`. Targets and their routes are passed in (the route
// tables are protocol's BROKER_ROUTES / CONTROLLER_ROUTES), so it covers whatever listeners a
// cluster has.

import { connect, type Socket } from 'node:net';
import { readState } from '@tributary/launcher';
import { ADMIN_OPS, MSGPACK_CONTENT_TYPE, listenerRoutes, decodeMsgpack, encodeMsgpack, type RouteSpec } from '@tributary/protocol';
import { ScheduleRandom } from './schedule.ts';

export const ABUSE_KINDS = [
  /** Declares a 1 GiB body of empty maps: refused from the content-length alone (413), before it is read. */
  'oversized',
  /** Streams a body of empty maps with no content-length until the server refuses it (413). */
  'oversized-chunked',
  /** 60,000 nested arrays in 60 KB: a stack overflow for a recursive decoder. */
  'nested',
  /** An array of 60,000 empty maps in 60 KB (small enough for every route's body limit). */
  'tiny-elements',
  /** ~4 million empty maps in 4 MiB: the issue's attack, at the size of the broker's fetch-like routes. */
  'tiny-elements-4mb',
  /** A plausible body cut in half, its content-length saying so. */
  'truncated',
  /** Declares a whole body, sends half of it and hangs up. */
  'cut-off',
  /** Random bytes as msgpack. */
  'garbage',
  /** A JSON body: not msgpack, refused unread. */
  'wrong-type',
  /** Headers, then the body at one byte a second: the request timeout must cut it. */
  'trickle-body',
  /** Headers at one byte a second: the headers timeout must cut it. */
  'trickle-headers',
  /** Connects and says nothing. */
  'silent',
] as const;
export type AbuseKind = (typeof ABUSE_KINDS)[number];

/** Kinds that hold a connection until the server's timeouts cut it (tens of seconds by default). */
export const SLOW_ABUSE_KINDS: readonly AbuseKind[] = ['trickle-body', 'trickle-headers', 'silent'];

/** A process to abuse: where it listens and what it serves. */
export interface AbuseTarget {
  /** For reports: 'controller', 'broker-3'. */
  name: string;
  host: string;
  port: number;
  routes: readonly RouteSpec[];
}

export interface AbuseRequest {
  target: AbuseTarget;
  method: 'GET' | 'POST';
  /** A concrete path (`:op` replaced by an admin operation). */
  path: string;
  kind: AbuseKind;
}

export interface AbuseOutcome {
  target: string;
  method: string;
  path: string;
  kind: AbuseKind;
  /** Status of the answer, when one came. */
  status?: number;
  /** Error code and message of a msgpack error answer. */
  code?: string;
  message?: string;
  /** The server closed (or reset) the connection. */
  closedByServer: boolean;
  /** Neither an answer nor a close came before the deadline; the abuser gave up. */
  gaveUp: boolean;
  /** The connection could not be made (refused, or cut before a byte was written). */
  connectError?: string;
  elapsedMs: number;
}

export interface AbuseOptions {
  /** Give up on a request after this long (default 45 s: past the default 30 s request timeout). */
  deadlineMs?: number;
  /** The length an `oversized` request declares (default 1 GiB); its body is sent until the server answers. */
  oversizedBytes?: number;
  /** Bytes a streamed oversized body may reach before the abuser stops (default 17 MiB, past the largest route limit). */
  chunkedBytesMax?: number;
  /** Seed of the garbage bytes. */
  seed?: number;
  /** Aborting ends every request at once (the connection is destroyed). */
  signal?: AbortSignal;
}

/** Every process of the local cluster running from `dataDir`, with its routes (from the launcher's state). */
export function localAbuseTargets(dataDir: string): AbuseTarget[] {
  const state = readState(dataDir);
  if (state === undefined) throw new Error(`no local cluster state in ${dataDir}`);
  // Both listeners of every process: the internal ones are as reachable on loopback, and an
  // abusive request there must be refused as well.
  return [
    { name: 'controller', host: '127.0.0.1', port: state.layout.controllerPort, routes: listenerRoutes('controller', 'external') },
    { name: 'controller (internal)', host: '127.0.0.1', port: state.layout.controllerInternalPort, routes: listenerRoutes('controller', 'internal') },
    ...state.layout.brokers.flatMap((b) => [
      { name: `broker-${b.id}`, host: '127.0.0.1', port: b.port, routes: listenerRoutes('broker', 'external') },
      { name: `broker-${b.id} (internal)`, host: '127.0.0.1', port: b.internalPort, routes: listenerRoutes('broker', 'internal') },
    ]),
  ];
}

/** Every (target, route, kind): `:op` routes once per admin operation. */
export function abuseRequests(targets: readonly AbuseTarget[], kinds: readonly AbuseKind[] = ABUSE_KINDS): AbuseRequest[] {
  const out: AbuseRequest[] = [];
  for (const target of targets) {
    for (const route of target.routes) {
      const paths = route.path.includes(':op') ? ADMIN_OPS.map((op) => route.path.replace(':op', op)) : [route.path];
      for (const path of paths) for (const kind of kinds) out.push({ target, method: route.method, path, kind });
    }
  }
  return out;
}

/** A body shaped like a real request (every route's common fields), for truncation. */
const PLAUSIBLE = encodeMsgpack({
  acks: -1,
  timeoutMs: 1000,
  brokerId: 0,
  brokerEpoch: 0,
  maxWaitMs: 0,
  topics: ['abuse'],
  topic: 'abuse',
  name: 'abuse',
  partitions: [{ topic: 'abuse', partition: 0, offset: 0, fetchOffset: 0, records: Buffer.alloc(64, 7) }],
});

function emptyMaps(count: number): Buffer {
  // [ {}, {}, … ]: an array32 of `count` fixmaps of size 0. Not a map, so no route can take it
  // for a request whose unknown fields it ignores: it must be refused, by the scan or the shape.
  return Buffer.concat([arrayHeader(count), Buffer.alloc(count, 0x80)]);
}

const NESTED = Buffer.concat([Buffer.alloc(60_000, 0x91), Buffer.from([0xc0])]);
const TINY = emptyMaps(60_000);
// Just under 4 MiB, the broker's fetch-like routes' body limit, so it is the scan that refuses it.
const TINY_4MB = emptyMaps(4 * 1024 * 1024 - 5);
/** Empty maps, to fill an oversized body: what a decoder would turn into one object per byte. */
const FILL = Buffer.alloc(64 * 1024, 0x80);
/** FILL as one chunk of a chunked body. */
const FILL_CHUNK = Buffer.concat([Buffer.from(`${FILL.length.toString(16)}\r\n`), FILL, Buffer.from('\r\n')]);

function arrayHeader(items: number): Buffer {
  const header = Buffer.from([0xdd, 0, 0, 0, 0]);
  header.writeUInt32BE(Math.min(items, 0xffffffff), 1);
  return header;
}

function head(method: string, path: string, target: AbuseTarget, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${target.host}:${target.port}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Sends one abusive request and reports what the server did. Never throws. */
export function sendAbuse(request: AbuseRequest, options: AbuseOptions = {}): Promise<AbuseOutcome> {
  const { target, method, path, kind } = request;
  const deadlineMs = options.deadlineMs ?? 45_000;
  const chunkedBytesMax = options.chunkedBytesMax ?? 17 * 1024 * 1024;
  const random = new ScheduleRandom(options.seed ?? 1);
  const started = Date.now();
  const outcome: AbuseOutcome = { target: target.name, method, path, kind, closedByServer: false, gaveUp: false, elapsedMs: 0 };

  return new Promise((resolve) => {
    let settled = false;
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    let trickle: NodeJS.Timeout | undefined;
    const socket: Socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);

    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(trickle);
      options.signal?.removeEventListener('abort', onAbort);
      outcome.elapsedMs = Date.now() - started;
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => {
      outcome.gaveUp = true;
      finish();
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => {
      outcome.gaveUp = true;
      finish();
    }, deadlineMs);

    /** Reads the first answer's status line (and a msgpack error body, when it is whole). */
    const onData = (chunk: Buffer): void => {
      if (received.length < 256 * 1024) received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const text = received.subarray(0, end).toString('latin1');
      outcome.status ??= Number(text.split(' ')[1]);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1] ?? NaN);
      const isMsgpack = text.toLowerCase().includes(MSGPACK_CONTENT_TYPE);
      if (isMsgpack && Number.isFinite(length) && received.length >= end + 4 + length) {
        try {
          const body = decodeMsgpack(received.subarray(end + 4, end + 4 + length)) as { code?: unknown; message?: unknown };
          if (typeof body?.code === 'string') outcome.code = body.code;
          if (typeof body?.message === 'string') outcome.message = body.message;
        } catch {
          // An answer that is not msgpack: the status says enough.
        }
      }
      // The answer head is enough, except for the slow kinds: they wait for the server to cut
      // the connection, which is what they test (a GET may well be answered first).
      const whole = !Number.isFinite(length) || received.length >= end + 4 + length;
      if (!SLOW_ABUSE_KINDS.includes(kind) && (whole || !isMsgpack)) finish();
    };
    socket.on('data', onData);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (socket.bytesWritten === 0 && outcome.status === undefined && (err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH'))
        outcome.connectError = err.code;
      else outcome.closedByServer = true;
      finish();
    });
    socket.on('end', () => {
      outcome.closedByServer = true;
      finish();
    });
    socket.on('close', () => {
      if (!settled) outcome.closedByServer = true;
      finish();
    });

    socket.once('connect', () => {
      const contentType = { 'content-type': MSGPACK_CONTENT_TYPE };
      const send = (body: Buffer, extra: Record<string, string | number> = {}): void => {
        socket.write(head(method, path, target, { ...contentType, 'content-length': body.length, ...extra }));
        if (body.length > 0) socket.write(body);
      };
      switch (kind) {
        case 'oversized': {
          // The issue's attack: a body of empty maps declaring its (large) length, streamed as
          // fast as the server reads it until the server answers.
          const declared = options.oversizedBytes ?? 1024 * 1024 * 1024;
          socket.write(head(method, path, target, { ...contentType, 'content-length': declared }));
          const header = arrayHeader(declared - 5);
          socket.write(header);
          let sent = header.length;
          const pump = (): void => {
            while (!settled && sent < declared && outcome.status === undefined) {
              const part = declared - sent >= FILL.length ? FILL : FILL.subarray(0, declared - sent);
              sent += part.length;
              if (!socket.write(part)) return void socket.once('drain', pump);
            }
          };
          pump();
          break;
        }
        case 'oversized-chunked': {
          // The same without a content-length: the server finds out only by counting.
          socket.write(head(method, path, target, { ...contentType, 'transfer-encoding': 'chunked' }));
          const header = arrayHeader(chunkedBytesMax);
          socket.write(Buffer.concat([Buffer.from(`${header.length.toString(16)}\r\n`), header, Buffer.from('\r\n')]));
          let sent = header.length;
          const pump = (): void => {
            while (!settled && sent < chunkedBytesMax && outcome.status === undefined) {
              sent += FILL.length;
              // One chunk in one write: the framing must never be split by backpressure.
              if (!socket.write(FILL_CHUNK)) return void socket.once('drain', pump);
            }
          };
          pump();
          break;
        }
        case 'nested':
          send(NESTED);
          break;
        case 'tiny-elements':
          send(TINY);
          break;
        case 'tiny-elements-4mb':
          send(TINY_4MB);
          break;
        case 'truncated':
          send(PLAUSIBLE.subarray(0, Math.floor(PLAUSIBLE.length / 2)));
          break;
        case 'cut-off':
          socket.write(head(method, path, target, { ...contentType, 'content-length': PLAUSIBLE.length }));
          socket.end(PLAUSIBLE.subarray(0, Math.floor(PLAUSIBLE.length / 2)));
          break;
        case 'garbage': {
          const bytes = Buffer.alloc(1 + random.int(0, 512));
          for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 256);
          send(bytes);
          break;
        }
        case 'wrong-type':
          send(Buffer.from(JSON.stringify({ topic: 'abuse', partitions: [] })), { 'content-type': 'application/json' });
          break;
        case 'trickle-body':
          socket.write(head(method, path, target, { ...contentType, 'content-length': PLAUSIBLE.length }));
          trickle = setInterval(() => socket.write(PLAUSIBLE.subarray(0, 1)), 1000);
          break;
        case 'trickle-headers': {
          const text = head(method, path, target, { ...contentType, 'content-length': PLAUSIBLE.length });
          let i = 0;
          trickle = setInterval(() => socket.write(text[i++ % text.length]!), 1000);
          break;
        }
        case 'silent':
          break;
      }
    });
  });
}

/**
 * Why an outcome is not what a well-behaved server does, or undefined when it is: never a 5xx;
 * a malformed body (any POST here) never accepted; an oversized one refused with
 * MESSAGE_TOO_LARGE (or the connection cut); a trickled or silent connection cut by the server;
 * a server that could not be reached is a failure too.
 */
export function judgeAbuse(outcome: AbuseOutcome): string | undefined {
  const what = `${outcome.kind} ${outcome.method} ${outcome.path} on ${outcome.target}`;
  if (outcome.connectError !== undefined) return `${what}: could not connect (${outcome.connectError})`;
  if (outcome.status !== undefined && outcome.status >= 500) return `${what}: answered ${outcome.status} ${outcome.code ?? ''} ${outcome.message ?? ''}`.trim();
  if (SLOW_ABUSE_KINDS.includes(outcome.kind)) {
    return outcome.closedByServer ? undefined : `${what}: the server did not cut the connection within ${outcome.elapsedMs} ms`;
  }
  if (outcome.gaveUp) return `${what}: no answer and no close within ${outcome.elapsedMs} ms`;
  if (outcome.method === 'GET') return undefined;
  if (outcome.status !== undefined && outcome.status < 400) return `${what}: a malformed request was accepted (${outcome.status})`;
  if ((outcome.kind === 'oversized' || outcome.kind === 'oversized-chunked') && outcome.status !== undefined && outcome.code !== 'MESSAGE_TOO_LARGE') {
    return `${what}: answered ${outcome.status} ${outcome.code ?? ''} instead of MESSAGE_TOO_LARGE`;
  }
  if (outcome.status === undefined && !outcome.closedByServer) return `${what}: neither an answer nor a close`;
  return undefined;
}

export interface AbuseRunOptions extends AbuseOptions {
  /** Requests in flight at once (default 16). */
  concurrency?: number;
  onOutcome?: (outcome: AbuseOutcome) => void;
}

/** Sends every request, `concurrency` at a time; resolves with every outcome (in completion order). */
export async function runAbuse(requests: readonly AbuseRequest[], options: AbuseRunOptions = {}): Promise<AbuseOutcome[]> {
  const outcomes: AbuseOutcome[] = [];
  let next = 0;
  const worker = async (w: number): Promise<void> => {
    while (next < requests.length && !options.signal?.aborted) {
      const i = next++;
      const outcome = await sendAbuse(requests[i]!, { ...options, seed: (options.seed ?? 1) * 1_000_003 + i + w });
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, (_, w) => worker(w)));
  return outcomes;
}

/**
 * Keeps abusing until `signal` aborts: random requests from `requests` (seeded), `concurrency`
 * at a time. For the chaos `garbage` fault and the bench's abuse phase.
 */
export async function abuseUntil(
  requests: readonly AbuseRequest[],
  signal: AbortSignal,
  options: Omit<AbuseRunOptions, 'signal'> = {},
): Promise<AbuseOutcome[]> {
  const random = new ScheduleRandom(options.seed ?? 1);
  const outcomes: AbuseOutcome[] = [];
  if (requests.length === 0) return outcomes;
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const outcome = await sendAbuse(random.pick(requests), { ...options, signal, seed: random.int(0, 2 ** 31) });
      if (signal.aborted && outcome.gaveUp) break;
      outcomes.push(outcome);
      options.onOutcome?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 16) }, () => worker()));
  return outcomes;
}

/**
 * Requests in flight at once during a chaos `garbage` fault: those answered at once, and the
 * slow ones (trickled, silent) that hold a connection until the server cuts it.
 */
export const GARBAGE_CONCURRENCY = 8;
export const GARBAGE_SLOW_CONCURRENCY = 16;

/**
 * The chaos `garbage` fault: abusive requests to random routes of random targets until stopped.
 * `stop()` ends it (requests in flight are dropped) and sums it up: how many were sent, and the
 * first few that were not handled as a well-behaved server handles them (judgeAbuse).
 */
export function startGarbage(targets: readonly AbuseTarget[], seed: number): { stop(): Promise<string> } {
  const abort = new AbortController();
  const requests = abuseRequests(targets);
  const running = Promise.all([
    abuseUntil(
      requests.filter((r) => !SLOW_ABUSE_KINDS.includes(r.kind)),
      abort.signal,
      { concurrency: GARBAGE_CONCURRENCY, seed },
    ),
    abuseUntil(
      requests.filter((r) => SLOW_ABUSE_KINDS.includes(r.kind)),
      abort.signal,
      { concurrency: GARBAGE_SLOW_CONCURRENCY, seed: seed + 1 },
    ),
  ]);
  return {
    async stop() {
      abort.abort();
      const outcomes = (await running).flat();
      const bad = outcomes.map(judgeAbuse).filter((v): v is string => v !== undefined);
      return `${outcomes.length} abusive requests to ${targets.length} processes, ${bad.length} badly handled${bad.length > 0 ? `: ${bad.slice(0, 3).join('; ')}` : ''}`;
    },
  };
}
