// The client side of msgpack-over-HTTP: one undici Pool per peer with keep-alive, a deadline per
// call, and errors turned into TributaryErrors. Retries are the caller's business: only the caller
// knows whether a request is safe to repeat.

import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { MSGPACK_CONTENT_TYPE, TributaryError, decodeMsgpack, encodeMsgpackParts, isErrorCode, joinMsgpackParts, type Endpoint } from '@tributary/protocol';

/** Why a call was aborted by its own deadline (told apart from the caller's signal). */
class DeadlineError extends Error {
  override name = 'TimeoutError';
}

export interface RpcClientOptions {
  /** Connections kept to the peer. */
  connectionsMax?: number;
  /** Default deadline per call. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class RpcClient {
  readonly endpoint: Endpoint;
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  private closed = false;

  constructor(endpoint: Endpoint, options: RpcClientOptions = {}) {
    this.endpoint = endpoint;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.pool = new Pool(`http://${formatHost(endpoint.host)}:${endpoint.port}`, {
      connections: options.connectionsMax ?? 4,
      keepAliveTimeout: 30_000,
      connectTimeout: options.connectTimeoutMs ?? 3_000,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /**
   * POSTs `body` as msgpack to `path` and decodes the answer. A non-2xx answer throws the
   * server's TributaryError; a lost connection throws BROKER_NOT_AVAILABLE; a deadline throws
   * REQUEST_TIMED_OUT. Both of the latter are indeterminate for writes: the request may have
   * been applied.
   */
  async call<Res>(path: string, body: unknown, options: CallOptions = {}): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    // One controller and one timer per call (AbortSignal.timeout + AbortSignal.any cost a timer,
    // weak references and listeners each, on every replica fetch).
    const controller = new AbortController();
    const signal = controller.signal;
    // Unref'd like AbortSignal.timeout's: a deadline alone does not keep a process alive.
    const timer = setTimeout(() => controller.abort(new DeadlineError(`deadline of ${timeoutMs} ms passed`)), timeoutMs).unref();
    const outer = options.signal;
    const onOuterAbort = (): void => controller.abort(outer!.reason);
    if (outer !== undefined) {
      if (outer.aborted) controller.abort(outer.reason);
      else outer.addEventListener('abort', onOuterAbort, { once: true });
    }
    // One exact-size buffer (msgpackr's own would grow 4× at a time around large record batches).
    // Not an iterable of the parts: undici writes those one syscall per part, which costs more
    // than the copy once a request holds many small batches.
    const payload = joinMsgpackParts(encodeMsgpackParts(body));
    let bytes: Buffer;
    let statusCode: number;
    try {
      let response;
      try {
        response = await this.pool.request({
          origin: undefined,
          path,
          method: 'POST',
          headers: { 'content-type': MSGPACK_CONTENT_TYPE },
          body: payload,
          signal,
        });
      } catch (err) {
        throw this.transportError(err, path, timeoutMs, signal);
      }
      statusCode = response.statusCode;
      try {
        bytes = await readBody(response.body);
      } catch (err) {
        throw this.transportError(err, path, timeoutMs, signal);
      }
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    }
    let decoded: unknown;
    try {
      decoded = bytes.length === 0 ? {} : decodeMsgpack(bytes);
    } catch (err) {
      throw new TributaryError('UNKNOWN_SERVER_ERROR', `${this.describe()}${path} answered ${statusCode} with a body that is not msgpack`, { cause: err });
    }
    if (statusCode >= 200 && statusCode < 300) return decoded as Res;
    const wire = decoded as { code?: unknown; message?: unknown };
    if (isErrorCode(wire.code)) {
      throw new TributaryError(wire.code, typeof wire.message === 'string' ? wire.message : undefined);
    }
    throw new TributaryError('UNKNOWN_SERVER_ERROR', `${this.describe()}${path} answered HTTP ${statusCode}`);
  }

  /** GET returning text (health, metrics). */
  async getText(path: string, options: CallOptions = {}): Promise<{ status: number; text: string }> {
    const signal = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    try {
      const response = await this.pool.request({ path, method: 'GET', signal });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (err) {
      throw this.transportError(err, path, options.timeoutMs ?? this.timeoutMs, signal);
    }
  }

  private transportError(err: unknown, path: string, timeoutMs: number, signal: AbortSignal): TributaryError {
    if (signal.aborted && (signal.reason as Error)?.name === 'TimeoutError') {
      return new TributaryError('REQUEST_TIMED_OUT', `${this.describe()}${path} did not answer within ${timeoutMs} ms`, { cause: err });
    }
    const code = (err as { code?: string }).code ?? (err as Error).name;
    return new TributaryError('BROKER_NOT_AVAILABLE', `${this.describe()}${path} failed: ${code} ${(err as Error).message ?? ''}`.trim(), { cause: err });
  }

  private describe(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}

/** One RpcClient per peer address, created on first use. */
export class RpcClientPool {
  private readonly clients = new Map<string, RpcClient>();
  private readonly options: RpcClientOptions;

  constructor(options: RpcClientOptions = {}) {
    this.options = options;
  }

  get(endpoint: Endpoint): RpcClient {
    const key = `${endpoint.host}:${endpoint.port}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new RpcClient(endpoint, this.options);
      this.clients.set(key, client);
    }
    return client;
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.close()));
  }
}

/**
 * The whole body as one Buffer. A body that arrived in one socket read is that chunk itself (a
 * view of the read, which is never reused); a longer one is joined once. undici's arrayBuffer()
 * copies even a single chunk, which cost followers a copy of every fetched byte.
 */
function readBody(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    let ended = false;
    body.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
    });
    body.once('error', reject);
    // A body destroyed without an error (no 'end', no 'error') must not leave the call hanging.
    body.once('close', () => {
      if (!ended) reject(Object.assign(new Error('the answer body closed before its end'), { code: 'UND_ERR_SOCKET' }));
    });
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Parses `host:port`, as users type it in --bootstrap. */
export function parseEndpoint(text: string): Endpoint {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new TributaryError('INVALID_REQUEST', `'${text}' is not host:port (e.g. 127.0.0.1:19092)`);
  }
  return { host: match[1]!, port };
}
