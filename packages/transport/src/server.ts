// The server side of msgpack-over-HTTP: a fastify instance that parses `application/msgpack`
// bodies, answers with msgpack, and maps errors to `{ code, message }` with the error table's
// HTTP status. Bodies are capped (`bodyLimitBytes`) so a huge request cannot exhaust memory.

import { Readable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  ERRORS,
  MSGPACK_CONTENT_TYPE,
  TributaryError,
  decodeMsgpack,
  encodeMsgpackParts,
  joinMsgpackParts,
  type MsgpackParts,
  type WireError,
} from '@tributary/protocol';

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

export interface MsgpackServerOptions {
  /** Largest request body accepted; larger ones get MESSAGE_TOO_LARGE. */
  bodyLimitBytes?: number;
  /** A pino logger (or false to stay silent). */
  logger?: unknown;
  /** Unhandled errors (programmer errors) are passed here after answering 500; default: log. */
  onUnexpectedError?: (err: unknown, request: FastifyRequest) => void;
}

export type MsgpackServer = FastifyInstance;

export function createMsgpackServer(options: MsgpackServerOptions = {}): MsgpackServer {
  const app = Fastify({
    // Fastify logs every request at info; keep its own logger at warn so a busy broker's log
    // holds the replication events, not one line per produce.
    ...(options.logger
      ? { loggerInstance: (options.logger as FastifyBaseLogger).child({ module: 'http' }, { level: 'warn' }) }
      : { logger: false }),
    bodyLimit: options.bodyLimitBytes ?? 64 * 1024 * 1024,
    keepAliveTimeout: 60_000,
    // Long polls (metadata, fetch) wait up to their own maxWaitMs; never cut them short here.
    requestTimeout: 0,
  }) as unknown as FastifyInstance;

  app.removeAllContentTypeParsers();
  const bodyLimit = app.initialConfig.bodyLimit!;
  // The body is read here rather than with parseAs 'buffer': fastify copies even a body that
  // arrived as one chunk, and Node's HTTP parser already hands each chunk over as a copy of its own.
  app.addContentTypeParser(MSGPACK_CONTENT_TYPE, (request, payload, done) => {
    readBody(request, payload, bodyLimit, (err, body) => {
      if (err !== undefined) return done(err as never, undefined);
      if (body!.length === 0) return done(null, {});
      try {
        done(null, decodeMsgpack(body!));
      } catch (decodeErr) {
        done(new TributaryError('INVALID_REQUEST', `body is not valid msgpack: ${(decodeErr as Error).message}`) as never, undefined);
      }
    });
  });
  // Anything else (JSON, text, forms) is refused up front with a clear code.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (req, _body, done) => {
    done(new TributaryError('INVALID_REQUEST', `content type '${req.headers['content-type']}' is not supported; send ${MSGPACK_CONTENT_TYPE}`) as never, undefined);
  });

  // A reply-level serializer (rather than the route default) also covers error replies.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.serializer((payload: unknown) => serializeMsgpack(reply, payload) as unknown as string);
    done();
  });
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
      return sendError(reply, new TributaryError('MESSAGE_TOO_LARGE', `request body exceeds ${app.initialConfig.bodyLimit} bytes`));
    }
    if (fastifyErr.statusCode !== undefined && fastifyErr.statusCode >= 400 && fastifyErr.statusCode < 500) {
      return sendError(reply, new TributaryError('INVALID_REQUEST', fastifyErr.message ?? 'bad request'));
    }
    if (options.onUnexpectedError) options.onUnexpectedError(err, request);
    else request.log?.error({ err }, 'unexpected error');
    return sendError(reply, new TributaryError('UNKNOWN_SERVER_ERROR', (err as Error)?.message ?? String(err)));
  });

  return app;
}

/** Collects a request body of at most `limit` bytes: one chunk as it is, several joined once. */
function readBody(request: FastifyRequest, payload: NodeJS.ReadableStream, limit: number, done: (err: Error | undefined, body?: Buffer) => void): void {
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return done(bodyTooLarge());
  const chunks: Buffer[] = [];
  let length = 0;
  const onData = (chunk: Buffer): void => {
    length += chunk.length;
    if (length > limit) {
      cleanup();
      // Drain the rest so the connection can carry the error answer.
      payload.resume();
      return done(bodyTooLarge());
    }
    chunks.push(chunk);
  };
  const onEnd = (err?: Error): void => {
    cleanup();
    if (err) return done(Object.assign(err, { statusCode: 400 }));
    if (!Number.isNaN(declared) && declared !== length) return done(Object.assign(new Error(`body of ${length} bytes does not match content-length ${declared}`), { statusCode: 400 }));
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

function bodyTooLarge(): Error {
  return Object.assign(new Error('request body too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
}

function sendError(reply: FastifyReply, err: TributaryError, status?: number): FastifyReply {
  const body: WireError = err.toWire();
  return reply.code(status ?? ERRORS[err.code].httpStatus).send(body);
}

/** The Prometheus text format's content type, for `GET /metrics` routes. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type { FastifyInstance, FastifyReply, FastifyRequest };
