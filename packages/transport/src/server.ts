// The server side of msgpack-over-HTTP: a fastify instance that parses `application/msgpack`
// bodies, answers with msgpack, and maps errors to `{ code, message }` with the error table's
// HTTP status. Every resource a request can make it hold is bounded (DESIGN.md § Limits): the
// body's bytes per route (refused before reading when the content-length says so), the values
// and depth msgpack decoding may build (scanned before decoding, protocol's scanMsgpack), the
// time to receive the request, idle connections, and, per process over all its listeners, open
// connections and request bytes in flight (budget.ts).

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  ERRORS,
  MSGPACK_CONTENT_TYPE,
  encodeMsgpack,
  TributaryError,
  decodeMsgpackBounded,
  encodeMsgpackParts,
  joinMsgpackParts,
  type MsgpackLimits,
  type MsgpackParts,
  type WireError,
} from '@tributary/protocol';
import { createServerBudget, type BytesTicket, type ServerBudget } from './budget.ts';

/**
 * Answers at least this large whose parts average at least STREAM_PART_BYTES_MIN are streamed
 * part by part (record batches straight from the file read, no copy into an encoding buffer).
 * Others are joined into one buffer: the socket takes each streamed part in a write of its own,
 * which costs more than the copy when an answer holds many small batches (1000 partitions).
 */
const STREAM_ANSWER_BYTES_MIN = 64 * 1024;
const STREAM_PART_BYTES_MIN = 32 * 1024;

/** The parts of a msgpack answer, pushed all at once (the socket writes them out in order). */
class PartsReadable extends Readable {
  private parts: Buffer[] | undefined;

  constructor(encoded: MsgpackParts) {
    super();
    this.parts = encoded.parts;
  }

  override _read(): void {
    const parts = this.parts;
    if (parts === undefined) return;
    this.parts = undefined;
    for (const part of parts) this.push(part);
    this.push(null);
  }
}

/** The reply serializer: msgpack, as one buffer or (large answers) as a stream of its parts. */
function serializeMsgpack(reply: FastifyReply, payload: unknown): Buffer | Readable {
  const encoded = encodeMsgpackParts(payload);
  if (encoded.parts.length === 1 || encoded.length < STREAM_ANSWER_BYTES_MIN || encoded.parts.length * STREAM_PART_BYTES_MIN > encoded.length) {
    return joinMsgpackParts(encoded);
  }
  reply.header('content-length', encoded.length);
  return new PartsReadable(encoded);
}

/** What one route accepts as a body (DESIGN.md § Limits); sized to its largest legitimate request. */
export interface BodyLimits extends MsgpackLimits {
  /** Largest body, bytes; larger ones get MESSAGE_TOO_LARGE before they are read. */
  bodyBytesMax: number;
}

/** What a server lets one request, and all of them together, hold (DESIGN.md § Limits). */
export interface ServerLimits {
  /** Body limits of a route that names none (`routeLimits`). */
  body: BodyLimits;
  /**
   * Time to receive a whole request, headers and body, from its first byte (Node's
   * `server.requestTimeout`): a trickled body is cut off with 408. It does not bound the answer,
   * so long polls wait their own maxWaitMs.
   */
  requestTimeoutMs: number;
  /** Time to receive a request's headers (Node's `server.headersTimeout`); also cuts a silent new connection. */
  headersTimeoutMs: number;
  /** A keep-alive connection with no request in flight is closed after this (Kafka's connections.max.idle.ms). */
  idleTimeoutMs: number;
  /** Open connections per process, over all its listeners (Kafka's max.connections); more are refused. */
  connectionsMax: number;
  /** Request bytes admitted and not yet handled, per process (Kafka's queued.max.request.bytes); more wait. */
  requestBytesInFlightMax: number;
}

/** Defaults for a server whose owner names no limits (tests, benches); processes set their own. */
export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  body: Object.freeze({ bodyBytesMax: 16 * 1024 * 1024, elementsMax: 262_144, depthMax: 16 }),
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  connectionsMax: 1024,
  requestBytesInFlightMax: 128 * 1024 * 1024,
});

/**
 * How often Node looks for requests past requestTimeoutMs / headersTimeoutMs (its default, 30 s,
 * would let a trickled request live up to 30 s past its timeout). A resolution, not a limit.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

export interface MsgpackServerOptions {
  /** This server's limits; any left out take DEFAULT_SERVER_LIMITS's. */
  limits?: Partial<Omit<ServerLimits, 'body'>> & { body?: Partial<BodyLimits> };
  /**
   * The process's connection and byte caps, shared by all its listeners (`createServerBudget`);
   * default: one of this server's own, from `limits`.
   */
  budget?: ServerBudget;
  /** A pino logger (or false to stay silent). */
  logger?: unknown;
  /** Unhandled errors (programmer errors) are passed here after answering 500; default: log. */
  onUnexpectedError?: (err: unknown, request: FastifyRequest) => void;
  /**
   * Serve HTTPS (TLS 1.2+) with this key and certificate, asking every client for a certificate
   * signed by `ca` (optional for the client: `peerCertificate` says whether it sent a valid one).
   * A plaintext HTTP request on such a listener is answered, in plaintext, with an error saying
   * to use https, and the connection closed.
   */
  tls?: TlsServerOptions;
  /**
   * Authenticates every request before its body is read: returns the principal (`principalOf`
   * gives it to the handler) or throws a TributaryError, answered at once (the handler never
   * runs). Paths in `publicPaths` skip it (the authentication route itself).
   */
  authenticate?: (request: FastifyRequest) => unknown;
  publicPaths?: readonly string[];
}

/** PEM key, certificate (chain) and the CA that signs the peers' certificates. */
export interface TlsServerOptions {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer;
}

const PRINCIPAL = Symbol('tributary.principal');

/** What `authenticate` returned for this request (undefined on a server without it, or a public path). */
export function principalOf<P = unknown>(request: FastifyRequest): P | undefined {
  return (request as unknown as { [PRINCIPAL]?: P })[PRINCIPAL];
}

/** The client's certificate on a TLS connection: whether the CA vouches for it, and its subject's CN. */
export function peerCertificate(request: FastifyRequest | IncomingMessage): { authorized: boolean; error?: string; commonName?: string } | undefined {
  const raw = 'raw' in request ? request.raw : request;
  const socket = raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const cert = socket.getPeerCertificate();
  const commonName = cert && typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined;
  const present = cert !== null && cert !== undefined && Object.keys(cert).length > 0;
  return {
    authorized: socket.authorized === true,
    ...(present ? {} : { error: 'no client certificate' }),
    ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}),
    ...(commonName !== undefined ? { commonName } : {}),
  };
}

/** The first byte of a TLS handshake record; anything else on a TLS listener is plaintext. */
const TLS_HANDSHAKE = 0x16;

/**
 * An HTTPS server whose connections are sniffed first: a TLS handshake goes on to TLS; a
 * plaintext request is answered in plaintext (400, a msgpack WireError naming the problem) and
 * closed, so a client that forgot https gets a clear error instead of a reset. A connection that
 * sends nothing within `headersTimeoutMs` is closed, as the HTTP server would.
 */
function createSniffingHttpsServer(handler: RequestListener, tls: TlsServerOptions, limits: ServerLimits): HttpsServer {
  const server = createHttpsServer(
    {
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    handler,
  );
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    // Until TLS takes the socket over, and after a plaintext refusal, nothing else listens for its
    // errors: a peer's reset (ECONNRESET, EPIPE) would be an uncaught exception and end the process.
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), limits.headersTimeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      if (chunk[0] !== TLS_HANDSHAKE) {
        const body = encodeMsgpack({
          code: 'INVALID_REQUEST',
          message: 'this listener speaks TLS: connect with https (give the cluster CA: --ca FILE or TRIBUTARY_CA)',
        } satisfies WireError);
        socket.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 400 Bad Request\r\ncontent-type: ${MSGPACK_CONTENT_TYPE}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`),
            body,
          ]),
        );
        setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
        return;
      }
      // Back into the socket's buffer: the TLS socket built over it reads it first.
      socket.unshift(chunk);
      for (const listener of tlsListeners) listener.call(server, socket);
    });
  });
  return server;
}

export type MsgpackServer = FastifyInstance;

/** Route options carrying a route's body limits: `app.post('/produce', routeLimits(l), handler)`. */
export function routeLimits(body: Partial<BodyLimits>): { config: { bodyLimits: Partial<BodyLimits> } } {
  return { config: { bodyLimits: body } };
}

/** The full limits of a server's requests: its own over the defaults. */
export function resolveServerLimits(limits: MsgpackServerOptions['limits'] = {}): ServerLimits {
  return { ...DEFAULT_SERVER_LIMITS, ...limits, body: { ...DEFAULT_SERVER_LIMITS.body, ...limits.body } };
}

/** A request's claim on the byte budget, released once its handler has taken it (budget.ts). */
const TICKET = Symbol('tributary.bytesTicket');
/** The request's response, kept by the onRequest hook for the body parser. */
const RESPONSE = Symbol('tributary.response');
type WithTicket = { [TICKET]?: BytesTicket; [RESPONSE]?: ServerResponse };

/**
 * How long a connection whose request was refused before its body was read (too large, wrong
 * content type) goes on reading and discarding what the client still sends, after the refusal
 * and a FIN, before it is closed for good: a lingering close. Node closes such a connection as
 * soon as the answer is written, and closing a socket with unread input makes the kernel send a
 * reset that can discard the answer still in flight: the client would see a dropped connection
 * instead of MESSAGE_TOO_LARGE. Reading is all it costs (nothing is kept), and only this long.
 */
const REFUSED_LINGER_MS = 5000;

export function createMsgpackServer(options: MsgpackServerOptions = {}): MsgpackServer {
  const limits = resolveServerLimits(options.limits);
  if (limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new RangeError(`headersTimeoutMs ${limits.headersTimeoutMs} exceeds requestTimeoutMs ${limits.requestTimeoutMs}`);
  const budget = options.budget ?? createServerBudget(limits);
  const tls = options.tls;
  const app = Fastify({
    ...(tls ? { serverFactory: (handler: RequestListener) => createSniffingHttpsServer(handler, tls, limits) } : {}),
    // Fastify logs every request at info; keep its own logger at warn so a busy broker's log
    // holds the replication events, not one line per produce.
    ...(options.logger ? { loggerInstance: (options.logger as FastifyBaseLogger).child({ module: 'http' }, { level: 'warn' }) } : { logger: false }),
    bodyLimit: limits.body.bodyBytesMax,
    keepAliveTimeout: limits.idleTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.idleTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // A connection past the process's cap is closed at once, before it can send anything.
  app.server.on('connection', (socket: Socket) => {
    if (!budget.connections.tryOpen()) {
      socket.destroy();
      return;
    }
    socket.once('close', () => budget.connections.close());
  });

  const bodyLimitsOf = (request: FastifyRequest): BodyLimits => {
    const own = (request.routeOptions.config as { bodyLimits?: Partial<BodyLimits> } | undefined)?.bodyLimits;
    return own === undefined ? limits.body : { ...limits.body, ...own };
  };

  // Every route's body must be admissible, else its largest requests would wait for ever. And the
  // bytes of a request go back to the budget once its handler has run up to its first await:
  // what it holds after that (an acks=all wait) is bounded by its own timeout.
  const routes: { method: string; url: string }[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({ method, url: route.url });
    const own = (route.config as { bodyLimits?: Partial<BodyLimits> } | undefined)?.bodyLimits;
    const bodyBytesMax = own?.bodyBytesMax ?? limits.body.bodyBytesMax;
    if (bodyBytesMax > budget.bytes.bytesMax) {
      throw new RangeError(`${route.method} ${route.url}: bodyBytesMax ${bodyBytesMax} exceeds requestBytesInFlightMax ${budget.bytes.bytesMax}`);
    }
    const handler = route.handler;
    route.handler = function handleThenRelease(this: FastifyInstance, request, reply) {
      try {
        return handler.call(this, request, reply);
      } finally {
        (request as WithTicket)[TICKET]?.release();
      }
    } as typeof handler;
  });

  app.removeAllContentTypeParsers();
  // The body is read here rather than with parseAs 'buffer': fastify copies even a body that
  // arrived as one chunk, and Node's HTTP parser already hands each chunk over as a copy of its own.
  app.addContentTypeParser(MSGPACK_CONTENT_TYPE, (request, payload, done) => {
    const bodyLimits = bodyLimitsOf(request);
    const what = `body of ${request.method} ${request.routeOptions.url ?? request.url}`;
    const declared = declaredLength(request);
    if (declared !== undefined && declared > bodyLimits.bodyBytesMax) {
      lingerThenClose(request.raw);
      return done(bodyTooLarge(what, bodyLimits.bodyBytesMax, declared) as never, undefined);
    }
    if (declared === 0) return done(null, {});
    // Admitted with its whole size before a byte is read; until then the socket is not read.
    const claim = declared ?? bodyLimits.bodyBytesMax;
    const ticket: BytesTicket = budget.bytes.acquire(claim, () => {
      readBody(request, payload, bodyLimits.bodyBytesMax, what, (err, body) => {
        if (err !== undefined) return done(err as never, undefined);
        ticket.shrinkTo(body!.length);
        if (body!.length === 0) return done(null, {});
        try {
          done(null, decodeMsgpackBounded(body!, bodyLimits, what));
        } catch (decodeErr) {
          const message = decodeErr instanceof TributaryError ? decodeErr.message : `${what} is not valid msgpack: ${(decodeErr as Error).message}`;
          done(new TributaryError('INVALID_REQUEST', message) as never, undefined);
        }
      });
    });
    (request as WithTicket)[TICKET] = ticket;
    // The bytes go back at the latest when the answer is sent or the connection drops: for a
    // request that never reaches its handler (refused, timed out, cut while waiting for room).
    (request as WithTicket)[RESPONSE]?.once('close', () => ticket.release());
    if (!ticket.admitted)
      request.log?.debug({ claim, inFlight: budget.bytes.inFlight, waiting: budget.bytes.waiting }, 'request waits for requestBytesInFlightMax');
  });
  // Anything else (JSON, text, forms) is refused up front, unread, with a clear code.
  app.addContentTypeParser('*', (req, _payload, done) => {
    const err = new TributaryError('INVALID_REQUEST', `content type '${req.headers['content-type']}' is not supported; send ${MSGPACK_CONTENT_TYPE}`);
    lingerThenClose(req.raw);
    done(err as never, undefined);
  });
  // A reply-level serializer (rather than the route default) also covers error replies.
  app.addHook('onRequest', (request, reply, done) => {
    reply.serializer((payload: unknown) => serializeMsgpack(reply, payload) as unknown as string);
    (request as WithTicket)[RESPONSE] = reply.raw;
    done();
  });
  // Authentication, before the body is read: a refused request never takes a byte of the budget.
  const authenticate = options.authenticate;
  if (authenticate !== undefined) {
    const publicPaths = new Set(options.publicPaths ?? []);
    app.addHook('onRequest', (request, reply, done) => {
      if (publicPaths.has(request.routeOptions.url ?? '')) return done();
      let principal: unknown;
      try {
        principal = authenticate(request);
      } catch (err) {
        const refusal = err instanceof TributaryError ? err : new TributaryError('UNAUTHORIZED', (err as Error)?.message ?? String(err));
        if (
          request.headers['content-length'] !== '0' &&
          (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined)
        ) {
          lingerThenClose(request.raw);
        }
        sendError(reply, refusal);
        return;
      }
      (request as unknown as { [PRINCIPAL]?: unknown })[PRINCIPAL] = principal;
      done();
    });
  }
  // Synchronous (a callback, not an async hook): one promise less per request.
  app.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (type === undefined || String(type).startsWith('application/json')) {
      reply.header('content-type', MSGPACK_CONTENT_TYPE);
    }
    done(null, payload);
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, new TributaryError('INVALID_REQUEST', `no route ${request.method} ${request.url}`), 404);
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    if (err instanceof TributaryError) return sendError(reply, err);
    const fastifyErr = err as { code?: string; statusCode?: number; message?: string };
    if (fastifyErr.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new TributaryError('MESSAGE_TOO_LARGE', `request body exceeds ${bodyLimitsOf(request).bodyBytesMax} bytes (bodyBytesMax)`));
    }
    if (fastifyErr.statusCode !== undefined && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) {
      return sendError(reply, new TributaryError('INVALID_REQUEST', fastifyErr.message ?? 'bad request'));
    }
    // The client went away before a streamed answer was written (a long poll whose poller was
    // killed, then answered with a large body): nobody to answer, and no bug of ours. Reported
    // as a bug, it crashed the controller when a broker was killed while it polled metadata.
    if (fastifyErr.code === 'ERR_STREAM_PREMATURE_CLOSE' || reply.raw.destroyed) {
      request.log?.debug?.({ err }, 'client closed the connection before its answer was written');
      return sendError(reply, new TributaryError('REQUEST_TIMED_OUT', 'the client closed the connection'));
    }
    if (options.onUnexpectedError) options.onUnexpectedError(err, request);
    else request.log?.error({ err }, 'unexpected error');
    return sendError(reply, new TributaryError('UNKNOWN_SERVER_ERROR', (err as Error)?.message ?? String(err)));
  });

  return app;
}

const ROUTES = new WeakMap<FastifyInstance, { method: string; url: string }[]>();

/** Every route registered on a server made by createMsgpackServer (HEAD twins left out), in order. */
export function registeredRoutes(app: FastifyInstance): readonly { method: string; url: string }[] {
  return ROUTES.get(app) ?? [];
}

/** The content-length header as a number; undefined for a streamed (chunked) body. */
function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined || request.headers['transfer-encoding'] !== undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Collects a request body of at most `limit` bytes: one chunk as it is, several joined once. */
function readBody(
  request: FastifyRequest,
  payload: NodeJS.ReadableStream,
  limit: number,
  what: string,
  done: (err: Error | undefined, body?: Buffer) => void,
): void {
  const declared = Number(request.headers['content-length']);
  const chunks: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer): void => {
    length += chunk.length;
    if (length > limit) {
      cleanup();
      lingerThenClose(request.raw);
      return done(bodyTooLarge(what, limit));
    }
    chunks.push(chunk);
  };
  const onEnd = (err?: Error): void => {
    cleanup();
    if (err) return done(Object.assign(err, { statusCode: 400 }));
    if (!Number.isNaN(declared) && declared !== length)
      return done(Object.assign(new Error(`${what} of ${length} bytes does not match content-length ${declared}`), { statusCode: 400 }));
    done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
  };
  const cleanup = (): void => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}

function bodyTooLarge(what: string, limit: number, declared?: number): Error {
  const size = declared === undefined ? `more than ${limit} bytes` : `${declared} bytes`;
  return new TributaryError('MESSAGE_TOO_LARGE', `${what} is ${size}; bodyBytesMax is ${limit}`);
}

/**
 * After a refusal of a request whose body was not read: the rest of the body is read and
 * discarded, and when Node ends the connection after the answer (it does when a request was not
 * read whole), its write side is closed at once but the socket is only destroyed once the client
 * closes its side or REFUSED_LINGER_MS have passed.
 */
function lingerThenClose(raw: IncomingMessage): void {
  const socket = raw.socket as Socket & { destroySoon?: () => void };
  // destroySoon is what Node's HTTP server calls to close a connection after its last answer.
  if (typeof socket.destroySoon === 'function') {
    socket.destroySoon = function lingeringClose(this: Socket): void {
      this.end();
      const timer = setTimeout(() => this.destroy(), REFUSED_LINGER_MS);
      this.once('close', () => clearTimeout(timer));
      // The client's FIN ends the linger.
      this.once('end', () => this.destroy());
    };
  }
  raw.on('data', discard);
  raw.resume();
}

function discard(): void {}

function sendError(reply: FastifyReply, err: TributaryError, status?: number): FastifyReply {
  const body: WireError = err.toWire();
  const code = status ?? ERRORS[err.code].httpStatus;
  // A 401 says how to authenticate (RFC 9110 § 11.6.1): a browser on the console then asks for a
  // user and password (HTTP Basic, checked against the SCRAM credentials); clients use SCRAM.
  if (code === 401) reply.header('www-authenticate', 'Basic realm="tributary", charset="UTF-8"');
  return reply.code(code).send(body);
}

/** The Prometheus text format's content type, for `GET /metrics` routes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type { FastifyInstance, FastifyReply, FastifyRequest };
export { ConnectionGate, RequestBytesBudget, createServerBudget } from './budget.ts';
export type { BytesTicket, ServerBudget } from './budget.ts';
