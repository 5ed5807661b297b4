// The client side of msgpack-over-HTTP: one undici Pool per peer with keep-alive, a deadline per
// call, and errors turned into TributaryErrors. Retries are the caller's business: only the caller
// knows whether a request is safe to repeat. Calls that must reach the peer in the order they are
// made (a producer's batches) take the ordered lane: one connection, pipelined.

import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Client, Pool } from 'undici';
import { MSGPACK_CONTENT_TYPE, TributaryError, decodeMsgpack, encodeMsgpackParts, isErrorCode, joinMsgpackParts, type Endpoint } from '@tributary/protocol';

const MSGPACK_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': MSGPACK_CONTENT_TYPE });

/** TLS for calls: the CA that signs the peers' certificates, and our own certificate (mutual TLS). */
export interface TlsClientOptions {
  ca: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /**
   * The common name the server's certificate must carry, besides being signed by `ca` and valid
   * for the host: a cluster process calling another names it (`controller`, `broker-3`), so a
   * certificate of the same CA made for some other process cannot stand in for it.
   */
  serverName?: string;
}

/** Node's host check, then the certificate's common name against `serverName`. */
export function serverIdentityCheck(serverName: string | undefined): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const hostError = checkServerIdentity(host, cert);
    if (hostError !== undefined || serverName === undefined) return hostError;
    const cn = cert.subject?.CN;
    return cn === serverName
      ? undefined
      : new Error(`the server's certificate is ${cn === undefined ? 'nameless' : `'${cn}'`}'s, not '${serverName}': another process answers at this address`);
  };
}

/** An `Authorization` header value, and when to get a new one (before the server would refuse it). */
export interface Authorization {
  value: string;
  expiresAtMs?: number;
}

/**
 * Gives the Authorization header for calls to a peer (e.g. a SCRAM exchange ending in a bearer
 * token, made with `peer.call(..., { noAuth: true })`). Asked once per peer, again when the value
 * expires or the peer refused it (SASL_AUTHENTICATION_FAILED: the call is then sent once more).
 */
export interface CallAuthenticator {
  authorize(peer: RpcClient): Promise<Authorization>;
}

/** Refresh a header this long before it expires. */
const AUTHORIZATION_MARGIN_MS = 60_000;

/** Why a call was aborted by its own deadline (told apart from the caller's signal). */
class DeadlineError extends Error {
  override name = 'TimeoutError';
}

/** What undici hands a dispatch handler: abort() ends the request (and its connection). */
interface DispatchController {
  abort(reason: Error): void;
}

/**
 * The calls in flight per caller signal, with one 'abort' listener per signal however many calls
 * it carries. Adding and removing a listener on a long-lived signal for every call (a replica
 * fetcher passes the same one to each fetch) made each call's whole object graph outlive young
 * GCs: with five loops of long polls per process, a scavenge kept ~1 MB instead of ~30 KB
 * (`pnpm bench:transport-gc`); a follower broker under load kept 2-11 MB per scavenge. The calls
 * of a signal are a linked list through the calls themselves, unlinked (both pointers cleared)
 * when a call settles: a Set here grows new hash tables as entries come and go, and an
 * outgrown table still points at its successor and its entries, which is the same problem again.
 */
interface SignalWatched {
  prevOnSignal: SignalWatched | undefined;
  nextOnSignal: SignalWatched | undefined;
  abortedBy(signal: AbortSignal): void;
}

class CallsBySignal {
  private readonly heads = new WeakMap<AbortSignal, { head: SignalWatched | undefined }>();

  watch(signal: AbortSignal, call: SignalWatched): void {
    let list = this.heads.get(signal);
    if (list === undefined) {
      const created: { head: SignalWatched | undefined } = { head: undefined };
      list = created;
      this.heads.set(signal, created);
      signal.addEventListener(
        'abort',
        () => {
          const calls: SignalWatched[] = [];
          for (let c = created.head; c !== undefined; c = c.nextOnSignal) calls.push(c);
          for (const c of calls) c.abortedBy(signal);
        },
        { once: true },
      );
    }
    call.nextOnSignal = list.head;
    if (list.head !== undefined) list.head.prevOnSignal = call;
    list.head = call;
  }

  unwatch(signal: AbortSignal, call: SignalWatched): void {
    const list = this.heads.get(signal);
    if (list === undefined) return;
    if (call.prevOnSignal !== undefined) call.prevOnSignal.nextOnSignal = call.nextOnSignal;
    else if (list.head === call) list.head = call.nextOnSignal;
    if (call.nextOnSignal !== undefined) call.nextOnSignal.prevOnSignal = call.prevOnSignal;
    call.prevOnSignal = undefined;
    call.nextOnSignal = undefined;
  }
}

const callsBySignal = new CallsBySignal();

/**
 * One call in flight: undici's handler for it, its deadline timer and the caller's signal. It
 * settles exactly once: on the answer's end, on undici's error, on the deadline or on the
 * caller's abort (the last two also abort the request, queued or on the wire).
 */
class PendingCall<Res> implements SignalWatched {
  settled = false;
  prevOnSignal: SignalWatched | undefined = undefined;
  nextOnSignal: SignalWatched | undefined = undefined;
  private controller: DispatchController | undefined;
  private abortReason: Error | undefined;
  private timedOut = false;
  private statusCode = 0;
  private chunks: Buffer[] = [];
  private length = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly client: RpcClient;
  private readonly path: string;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;
  private readonly resolve: (value: Res) => void;
  private readonly reject: (err: Error) => void;

  constructor(
    client: RpcClient,
    path: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    resolve: (value: Res) => void,
    reject: (err: Error) => void,
  ) {
    this.client = client;
    this.path = path;
    this.timeoutMs = timeoutMs;
    this.signal = signal;
    this.resolve = resolve;
    this.reject = reject;
    // Unref'd: a deadline alone does not keep a process alive.
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(new DeadlineError(`deadline of ${timeoutMs} ms passed`));
    }, timeoutMs).unref();
    if (signal !== undefined) {
      if (signal.aborted) this.abort(signal.reason as Error);
      else callsBySignal.watch(signal, this);
    }
  }

  /** The caller's signal fired. */
  abortedBy(signal: AbortSignal): void {
    this.abort(signal.reason as Error);
  }

  /** Settles at once; a request still queued in the pool is aborted when it starts. */
  private abort(reason: Error): void {
    if (this.settled) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.fail(reason);
  }

  fail(err: unknown): void {
    if (this.settled) return;
    this.finish();
    this.reject(this.client.transportError(err, this.path, this.timeoutMs, this.timedOut));
  }

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    if (this.signal !== undefined) callsBySignal.unwatch(this.signal, this);
  }

  onRequestStart(controller: DispatchController): void {
    this.controller = controller;
    if (this.abortReason !== undefined) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: DispatchController, statusCode: number): void {
    this.statusCode = statusCode;
  }

  onResponseData(_controller: DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /**
   * The whole body as one Buffer: a body that arrived in one socket read is that chunk itself (a
   * view of the read, which is never reused); a longer one is joined once.
   */
  onResponseEnd(): void {
    if (this.settled) return;
    this.finish();
    const chunks = this.chunks;
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.length);
    try {
      this.resolve(this.client.decodeAnswer(this.path, this.statusCode, bytes) as Res);
    } catch (err) {
      this.reject(err as Error);
    }
  }

  onResponseError(_controller: DispatchController, err: Error): void {
    this.fail(err);
  }
}

export interface RpcClientOptions {
  /** Connections kept to the peer. */
  connectionsMax?: number;
  /** Calls in flight at once on the ordered lane (HTTP/1.1 pipelining on its one connection). */
  orderedInFlightMax?: number;
  /** Default deadline per call. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  /** Call over https, verifying the peer against `ca` (and presenting `cert` when given). */
  tls?: TlsClientOptions;
  /** Adds an Authorization header to every call. */
  authenticator?: CallAuthenticator;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Send on the ordered lane: one connection to the peer, calls pipelined on it, so the server
   * reads them (and Node's HTTP server answers them) in the order they were made. Kafka's
   * producer gets this from its one connection per broker; over a pool of connections two
   * batches of one partition can overtake each other, which costs an idempotent producer an
   * OUT_OF_ORDER_SEQUENCE_NUMBER and a retry backoff (about 100 ms of stall per overtake). If
   * the connection drops, undici fails the oldest call and sends the others again on a new
   * connection: use it only for calls the caller would retry anyway (produce: an idempotent
   * producer's sequences make a repeat harmless, and without idempotence a produce that fails
   * on a lost connection is retried, at least once, all the same).
   */
  ordered?: boolean;
  /** Extra headers for this call. */
  headers?: Readonly<Record<string, string>>;
  /** Send without the authenticator's header (the authentication exchange itself). */
  noAuth?: boolean;
}

export class RpcClient {
  readonly endpoint: Endpoint;
  private readonly pool: Pool;
  private orderedLane: Client | undefined;
  private readonly options: RpcClientOptions;
  private readonly timeoutMs: number;
  private closed = false;
  private authorization: Authorization | undefined;
  private authorizing: Promise<Authorization> | undefined;
  /** The headers of an authorized call, made once per authorization. */
  private authHeaders: Record<string, string> | undefined;

  constructor(endpoint: Endpoint, options: RpcClientOptions = {}) {
    this.endpoint = endpoint;
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.pool = new Pool(this.origin(), { ...this.connectionOptions(), connections: options.connectionsMax ?? 4 });
  }

  private origin(): string {
    return `${this.options.tls ? 'https' : 'http'}://${formatHost(this.endpoint.host)}:${this.endpoint.port}`;
  }

  /** What the pool's connections and the ordered lane's share: keep-alive, no body/header timeouts (long polls). */
  private connectionOptions() {
    const tls = this.options.tls;
    return {
      keepAliveTimeout: 30_000,
      connectTimeout: this.options.connectTimeoutMs ?? 3_000,
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(tls
        ? {
            connect: {
              ca: tls.ca,
              ...(tls.cert ? { cert: tls.cert } : {}),
              ...(tls.key ? { key: tls.key } : {}),
              minVersion: 'TLSv1.2' as const,
              checkServerIdentity: serverIdentityCheck(tls.serverName),
            },
          }
        : {}),
    };
  }

  /** The current authorization, a new one when there is none, it expires soon, or it is `stale`. */
  private authorize(stale?: Authorization): Promise<Authorization> {
    const current = this.authorization;
    if (current !== undefined && current !== stale && (current.expiresAtMs === undefined || current.expiresAtMs - AUTHORIZATION_MARGIN_MS > Date.now())) {
      return Promise.resolve(current);
    }
    this.authorizing ??= this.options
      .authenticator!.authorize(this)
      .then((a) => {
        this.authorization = a;
        this.authHeaders = { ...MSGPACK_HEADERS, authorization: a.value };
        return a;
      })
      .finally(() => {
        this.authorizing = undefined;
      });
    return this.authorizing;
  }

  /** The ordered lane's connection, opened on first use. */
  private ordered(): Client {
    this.orderedLane ??= new Client(this.origin(), { ...this.connectionOptions(), pipelining: this.options.orderedInFlightMax ?? 5 });
    return this.orderedLane;
  }

  /**
   * POSTs `body` as msgpack to `path` and decodes the answer. A non-2xx answer throws the
   * server's TributaryError; a lost connection throws BROKER_NOT_AVAILABLE; a deadline throws
   * REQUEST_TIMED_OUT. Both of the latter are indeterminate for writes: the request may have
   * been applied.
   *
   * Sent with undici's `dispatch` and a handler of our own rather than `request`: no body stream,
   * no AbortSignal and no promise per call inside undici. `pnpm bench:transport`: 110 → 78 µs of
   * client CPU per round trip, and every produce, fetch and replica fetch is one.
   */
  call<Res>(path: string, body: unknown, options: CallOptions = {}): Promise<Res> {
    if (this.options.authenticator === undefined || options.noAuth === true)
      return this.send<Res>(path, body, options, options.headers === undefined ? MSGPACK_HEADERS : { ...MSGPACK_HEADERS, ...options.headers });
    const current = this.authorization;
    const fresh = current !== undefined && (current.expiresAtMs === undefined || current.expiresAtMs - AUTHORIZATION_MARGIN_MS > Date.now());
    const first = fresh ? Promise.resolve(current) : this.authorize();
    return first.then((authorization) =>
      this.send<Res>(path, body, options, this.headersFor(authorization, options)).catch((err: unknown) => {
        // The peer forgot the session (it restarted) or it expired: authenticate again, send once more.
        if (!(err instanceof TributaryError) || err.code !== 'SASL_AUTHENTICATION_FAILED') throw err;
        return this.authorize(authorization).then((again) => this.send<Res>(path, body, options, this.headersFor(again, options)));
      }),
    );
  }

  private headersFor(authorization: Authorization, options: CallOptions): Readonly<Record<string, string>> {
    const base =
      this.authorization === authorization && this.authHeaders !== undefined ? this.authHeaders : { ...MSGPACK_HEADERS, authorization: authorization.value };
    return options.headers === undefined ? base : { ...base, ...options.headers };
  }

  private send<Res>(path: string, body: unknown, options: CallOptions, headers: Readonly<Record<string, string>>): Promise<Res> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    // One exact-size buffer (msgpackr's own would grow 4× at a time around large record batches).
    // Not an iterable of the parts: undici writes those one syscall per part, which costs more
    // than the copy once a request holds many small batches.
    const payload = joinMsgpackParts(encodeMsgpackParts(body));
    return new Promise<Res>((resolve, reject) => {
      const call = new PendingCall<Res>(this, path, timeoutMs, options.signal, resolve, reject);
      if (call.settled) return;
      try {
        // undici pipelines a POST only when it is marked idempotent and not blocking; for the
        // pool, false/true are undici's own defaults for a POST.
        const ordered = options.ordered === true;
        (ordered ? this.ordered() : this.pool).dispatch({ path, method: 'POST', headers, body: payload, idempotent: ordered, blocking: !ordered }, call);
      } catch (err) {
        call.fail(err);
      }
    });
  }

  /** The TributaryError for an answer: the decoded value for 2xx, the server's error otherwise. */
  decodeAnswer(path: string, statusCode: number, bytes: Buffer): unknown {
    let decoded: unknown;
    try {
      decoded = bytes.length === 0 ? {} : decodeMsgpack(bytes);
    } catch (err) {
      throw new TributaryError('UNKNOWN_SERVER_ERROR', `${this.describe()}${path} answered ${statusCode} with a body that is not msgpack`, { cause: err });
    }
    if (statusCode >= 200 && statusCode < 300) return decoded;
    const wire = decoded as { code?: unknown; message?: unknown; memberId?: unknown };
    if (isErrorCode(wire.code)) {
      // MEMBER_ID_REQUIRED carries the member id to join again with (KIP-394).
      const extra = typeof wire.memberId === 'string' ? { memberId: wire.memberId } : undefined;
      throw new TributaryError(wire.code, typeof wire.message === 'string' ? wire.message : undefined, extra);
    }
    throw new TributaryError('UNKNOWN_SERVER_ERROR', `${this.describe()}${path} answered HTTP ${statusCode}`);
  }

  /** GET returning text (health, metrics). */
  async getText(path: string, options: CallOptions = {}): Promise<{ status: number; text: string }> {
    const signal = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    try {
      const authorization = this.options.authenticator === undefined || options.noAuth === true ? undefined : await this.authorize();
      const headers = { ...(authorization ? { authorization: authorization.value } : {}), ...options.headers };
      const response = await this.pool.request({ path, method: 'GET', signal, headers });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (err) {
      throw this.transportError(err, path, options.timeoutMs ?? this.timeoutMs, signal.aborted && (signal.reason as Error)?.name === 'TimeoutError');
    }
  }

  transportError(err: unknown, path: string, timeoutMs: number, timedOut: boolean): TributaryError {
    if (timedOut) {
      return new TributaryError('REQUEST_TIMED_OUT', `${this.describe()}${path} did not answer within ${timeoutMs} ms`, { cause: err });
    }
    if (err instanceof TributaryError) return err;
    const code = (err as { code?: string }).code ?? (err as Error).name;
    const hint = tlsHint(err, this.options.tls !== undefined);
    return new TributaryError('BROKER_NOT_AVAILABLE', `${this.describe()}${path} failed: ${code} ${(err as Error).message ?? ''}${hint}`.trim(), {
      cause: err,
    });
  }

  private describe(): string {
    return `${this.endpoint.host}:${this.endpoint.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.destroy(), this.orderedLane?.destroy()]);
  }
}

/** One RpcClient per peer address, created on first use. */
export class RpcClientPool {
  private readonly clients = new Map<string, RpcClient>();
  private readonly options: RpcClientOptions;

  constructor(options: RpcClientOptions = {}) {
    this.options = options;
  }

  /** `serverName`: the process expected there (TLS only: its certificate's common name is checked). */
  get(endpoint: Endpoint, serverName?: string): RpcClient {
    const key = `${endpoint.host}:${endpoint.port}/${serverName ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      const tls = this.options.tls;
      client = new RpcClient(endpoint, tls && serverName !== undefined ? { ...this.options, tls: { ...tls, serverName } } : this.options);
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

/** What to do about a TLS failure, in words (empty for other failures). */
function tlsHint(err: unknown, usingTls: boolean): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${e.code ?? ''} ${e.message ?? ''} ${e.cause?.code ?? ''} ${e.cause?.message ?? ''}`;
  if (usingTls && /WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(text))
    return ' (the peer does not speak TLS: is it a plaintext listener? leave out --ca)';
  if (usingTls && /CERT|certificate|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/i.test(text))
    return " (the peer's certificate is not signed by the CA given, or does not name this host: check --ca)";
  return '';
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Parses `host:port`, as users type it in --bootstrap. */
export function parseEndpoint(text: string): Endpoint {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  // A host is a DNS name or an IPv4/IPv6 address, nothing a URL would read as something else.
  if (!match || !(port >= 1 && port <= 65535) || !/^[A-Za-z0-9._:%-]+$/.test(match[1]!)) {
    throw new TributaryError('INVALID_REQUEST', `'${text}' is not host:port (e.g. 127.0.0.1:19092)`);
  }
  return { host: match[1]!, port };
}
