// The broker's Kafka-protocol listener (issue 19): length-prefixed frames over TCP, decoded by
// @tributary/kafka's generic codec and answered by kafka-apis.ts. A second front door onto the
// same ReplicaManager and CoordinatorHost the HTTP routes use.
//
// Limits are the HTTP listeners' (DESIGN.md § Limits), shared with them through the process's
// ServerBudget: a connection past connectionsMax is closed at once, and a frame's bytes are
// claimed from the request-bytes budget as soon as its size prefix arrives; while the claim
// waits, the socket is not read (TCP pushes back, as Kafka mutes the channel). A size prefix
// outside [8, kafkaFrameBytesMax] (a 2 GB length, a negative one), an unknown API key, a version
// we do not advertise (ApiVersions aside: KIP-511) or a body that does not decode closes the
// connection, as Kafka does; nothing is allocated for a frame before its bytes have arrived.
// A frame that does not complete within requestTimeoutMs of its first byte closes it too.
//
// Requests on one connection are handled one at a time, in order, and answered in order (Kafka's
// muted channel): an idempotent producer's pipelined batches reach the log in the order sent.
//
// On a secure cluster (issue 20) the listener is Kafka's SASL_SSL: TLS, then SASL (kafka-sasl.ts)
// before anything but ApiVersions; a client certificate signed by the cluster CA authenticates
// the connection instead (a cluster process). Every request then carries the connection's
// principal to kafka-apis.ts, which asks the ACLs.

import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { AssertionError, type Endpoint } from '@tributary/protocol';
import { ANONYMOUS, type ScramSessions } from '@tributary/auth';
import type { KafkaAuthenticationRefusal, TlsFiles } from '@tributary/auth/server';
import {
  API_VERSIONS_KEY,
  SASL_AUTHENTICATE_KEY,
  SASL_HANDSHAKE_KEY,
  FrameDecoder,
  FrameError,
  KafkaDecodeError,
  MESSAGES,
  apiVersionRange,
  decodeMessage,
  encodeResponse,
  isAdvertised,
  kafkaErrorCode,
  readRequestHeader,
  type Message,
  type RequestHeaderValue,
} from '@tributary/kafka';
import type { BytesTicket, ServerBudget } from '@tributary/transport/server';
import { CloseConnection, apiVersionsBody, type KafkaApis, type KafkaSession } from './kafka-apis.ts';
import { KafkaSaslSession, certificatePrincipal, type SaslAnswer } from './kafka-sasl.ts';

export interface KafkaListenerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface KafkaListenerOptions {
  name: 'internal' | 'external';
  apis: KafkaApis;
  budget: ServerBudget;
  frameBytesMax: number;
  requestTimeoutMs: number;
  /** Kafka's connections.max.idle.ms. */
  idleTimeoutMs: number;
  logger: KafkaListenerLogger;
  onUnexpectedError: (err: unknown) => void;
  /** A secure cluster's listener: TLS with these files, SASL against these credentials. */
  security?: {
    tls: TlsFiles;
    sessions: ScramSessions;
    /** Told of every refused authentication (the process logs and counts it). */
    onRefused: (refusal: KafkaAuthenticationRefusal) => void;
  };
}

/** Frames read ahead of the one being handled, per connection, before the socket is paused. */
const QUEUED_FRAMES_MAX = 32;

export class KafkaListener {
  readonly server: Server;
  private readonly options: KafkaListenerOptions;
  private readonly sockets = new Set<Socket>();

  constructor(options: KafkaListenerOptions) {
    this.options = options;
    const tls = options.security?.tls;
    if (tls === undefined) {
      this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    } else {
      // A certificate is asked for, not required: SASL users have none.
      this.server = createTlsServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, rejectUnauthorized: false }, (socket) => {
        socket.setNoDelay(true);
        this.accept(socket);
      });
      this.server.on('tlsClientError', (err, socket) => {
        options.logger.debug({ err: err.message, remote: socket.remoteAddress, listener: options.name }, 'kafka connection failed its TLS handshake');
      });
    }
  }

  async listen(at: Endpoint): Promise<Endpoint> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(at.port, at.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    return { host: at.host, port: typeof address === 'object' && address !== null ? address.port : at.port };
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    const { budget, logger } = this.options;
    if (!budget.connections.tryOpen()) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    new KafkaConnection(socket, this.options, () => {
      this.sockets.delete(socket);
      budget.connections.close();
    });
    logger.debug({ remote: socket.remoteAddress, listener: this.options.name }, 'kafka connection');
  }
}

interface QueuedFrame {
  frame: Buffer;
  ticket: BytesTicket | undefined;
}

class KafkaConnection {
  private readonly socket: Socket;
  private readonly options: KafkaListenerOptions;
  private readonly decoder: FrameDecoder;
  private readonly queue: QueuedFrame[] = [];
  /** The claim for the frame whose prefix has arrived and body has not. */
  private ticket: BytesTicket | undefined;
  private waitingForBudget = false;
  /** A claim queued in the budget (released on close, so it cannot hold others back). */
  private waitingTicket: BytesTicket | undefined;
  private processing = false;
  private closed = false;
  private partialTimer: NodeJS.Timeout | undefined;
  /** The caller as Kafka's group members name it (`/127.0.0.1`) and as ACL hosts do (`127.0.0.1`). */
  private readonly clientHost: string;
  private readonly aclHost: string;
  /** A secure listener's authentication state; undefined on a plaintext one. */
  private readonly sasl: KafkaSaslSession | undefined;
  /** After SaslHandshake v0: frames are bare SASL tokens until the exchange ends (Kafka's v0 protocol). */
  private rawSaslTokens = false;

  constructor(socket: Socket, options: KafkaListenerOptions, onClose: () => void) {
    this.socket = socket;
    this.options = options;
    this.decoder = new FrameDecoder(options.frameBytesMax);
    const ip = socket.remoteAddress ?? 'unknown';
    this.aclHost = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    this.clientHost = `/${ip}`;
    if (options.security !== undefined) {
      const tls = socket as TLSSocket;
      const cn = tls.authorized ? tls.getPeerCertificate()?.subject?.CN : undefined;
      this.sasl = new KafkaSaslSession(options.security.sessions, typeof cn === 'string' ? certificatePrincipal(cn) : undefined);
    }
    socket.setTimeout(options.idleTimeoutMs, () => this.close('idle'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => this.close());
    socket.once('close', () => {
      this.close();
      onClose();
    });
  }

  /** `flush`: end the socket after what was written (a last answer) instead of dropping it. */
  private close(reason?: string, detail?: object, flush = false): void {
    if (reason !== undefined && !this.closed) this.options.logger.debug({ reason, ...detail, remote: this.socket.remoteAddress }, 'closing kafka connection');
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.partialTimer);
    this.ticket?.release();
    this.ticket = undefined;
    this.waitingTicket?.release();
    this.waitingTicket = undefined;
    for (const q of this.queue) q.ticket?.release();
    this.queue.length = 0;
    if (flush) {
      this.socket.pause();
      this.socket.end();
      // A peer that never reads its answer does not keep the socket.
      setTimeout(() => this.socket.destroy(), 5000).unref();
    } else this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk);
    this.cut();
  }

  /** Takes whole frames out of the decoder while the budget admits them. */
  private cut(): void {
    try {
      for (;;) {
        if (this.closed || this.waitingForBudget) return;
        if (this.decoder.pendingFrameSize < 0) {
          // Reads the size prefix (and the frame, if it is all there).
          const frame = this.decoder.next();
          if (frame === undefined && this.decoder.pendingFrameSize < 0) break;
          if (frame !== undefined) {
            // A whole frame arrived in one go: it still must be admitted first.
            if (!this.claim(frame.length, frame)) return;
            continue;
          }
          if (!this.claim(this.decoder.pendingFrameSize, undefined)) return;
        }
        const frame = this.decoder.next();
        if (frame === undefined) break;
        this.enqueue(frame, this.ticket);
        this.ticket = undefined;
      }
    } catch (err) {
      if (err instanceof FrameError) return this.close('bad frame', { err: err.message });
      throw err;
    }
    // A partial frame must complete within the request timeout.
    if (this.decoder.bufferedBytes > 0 && this.partialTimer === undefined) {
      this.partialTimer = setTimeout(() => this.close('request not received in time'), this.options.requestTimeoutMs);
      this.partialTimer.unref();
    } else if (this.decoder.bufferedBytes === 0) {
      clearTimeout(this.partialTimer);
      this.partialTimer = undefined;
    }
  }

  /**
   * Claims `size` bytes; true when admitted at once. Otherwise the socket pauses until they are
   * (a whole frame already read waits with the claim).
   */
  private claim(size: number, frame: Buffer | undefined): boolean {
    const bytes = Math.min(size, this.options.budget.bytes.bytesMax);
    let admittedNow = false;
    let sync = true;
    const ticket = this.options.budget.bytes.acquire(bytes, () => {
      if (sync) {
        admittedNow = true;
        return;
      }
      this.waitingForBudget = false;
      this.waitingTicket = undefined;
      if (this.closed) {
        ticket.release();
        return;
      }
      if (frame !== undefined) this.enqueue(frame, ticket);
      else this.ticket = ticket;
      this.socket.resume();
      this.cut();
    });
    sync = false;
    if (admittedNow) {
      if (frame !== undefined) this.enqueue(frame, ticket);
      else this.ticket = ticket;
      return true;
    }
    this.waitingForBudget = true;
    this.waitingTicket = ticket;
    this.socket.pause();
    return false;
  }

  private enqueue(frame: Buffer, ticket: BytesTicket | undefined): void {
    this.queue.push({ frame, ticket });
    if (this.queue.length >= QUEUED_FRAMES_MAX) this.socket.pause();
    if (!this.processing) void this.process();
  }

  private async process(): Promise<void> {
    this.processing = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const next = this.queue.shift()!;
        if (this.queue.length < QUEUED_FRAMES_MAX && !this.waitingForBudget) this.socket.resume();
        const answer = this.handle(next.frame);
        // The request is taken (a produce's batches are appended before handle's first await):
        // its bytes go back to the budget, as Kafka frees a request's buffer once handled.
        next.ticket?.release();
        const response = await answer;
        if (this.closed) return;
        if (response === 'close') return this.close('bad request');
        if (response === undefined) continue;
        const chunks = Array.isArray(response) ? response : response.chunks;
        let writable = true;
        for (const chunk of chunks) writable = this.socket.write(chunk);
        if (!Array.isArray(response)) {
          // A refused authentication: the answer goes out, then the connection closes (as Kafka).
          return this.close('authentication refused', undefined, true);
        }
        if (!writable) await new Promise<void>((resolve) => this.socket.once('drain', resolve).once('close', resolve));
      }
    } catch (err) {
      this.options.onUnexpectedError(err);
      this.close('unexpected error');
    } finally {
      this.processing = false;
    }
  }

  /** The response's chunks, undefined for none (acks=0), 'close', or chunks to send before closing. */
  private async handle(frame: Buffer): Promise<Buffer[] | undefined | 'close' | { chunks: Buffer[]; thenClose: true }> {
    if (this.rawSaslTokens && this.sasl !== undefined) return this.rawToken(this.sasl, frame);
    let header: RequestHeaderValue;
    let body: Message;
    try {
      const parsed = readRequestHeader(frame);
      header = parsed.header;
      if (!isAdvertised(header.apiKey, header.apiVersion, this.sasl !== undefined)) {
        if (header.apiKey === API_VERSIONS_KEY) {
          // KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges; the client retries with one of them.
          return encodeResponse(API_VERSIONS_KEY, 0, header.correlationId, {
            ...apiVersionsBody(this.sasl !== undefined),
            errorCode: kafkaErrorCode('UNSUPPORTED_VERSION'),
          });
        }
        const range = apiVersionRange(header.apiKey);
        this.options.logger.debug(
          {
            apiKey: header.apiKey,
            apiVersion: header.apiVersion,
            supported: range ? `${range.minVersion}-${range.maxVersion}` : 'none',
            clientId: header.clientId,
          },
          'kafka request of an unsupported API or version: closing the connection',
        );
        return 'close';
      }
      body = decodeMessage(MESSAGES.get(header.apiKey)!.request, header.apiVersion, parsed.reader);
    } catch (err) {
      if (err instanceof KafkaDecodeError || err instanceof RangeError) {
        this.options.logger.debug({ err: err.message }, 'undecodable kafka request');
        return 'close';
      }
      throw err;
    }
    const sasl = this.sasl;
    if (sasl !== undefined && (header.apiKey === SASL_HANDSHAKE_KEY || header.apiKey === SASL_AUTHENTICATE_KEY)) return this.authenticate(sasl, header, body);
    if (sasl !== undefined && !sasl.authenticated && header.apiKey !== API_VERSIONS_KEY) {
      // Kafka closes a connection that sends anything else before authenticating.
      this.options.logger.debug({ apiKey: header.apiKey, remote: this.aclHost }, 'kafka request before SASL authentication: closing the connection');
      return 'close';
    }
    const session: KafkaSession = { principal: sasl?.principal ?? ANONYMOUS, host: this.aclHost, clientHost: this.clientHost };
    let response: Message | undefined;
    try {
      response = await this.options.apis.handle(header, body, session);
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      if (err instanceof CloseConnection) {
        this.options.logger.debug({ reason: err.message }, 'closing the kafka connection');
        return 'close';
      }
      this.options.logger.error({ err, apiKey: header.apiKey, apiVersion: header.apiVersion }, 'kafka request failed');
      return 'close';
    }
    if (response === undefined) return undefined;
    return encodeResponse(header.apiKey, header.apiVersion, header.correlationId, response);
  }

  /** SaslHandshake and SaslAuthenticate, answered from the connection's SASL state. */
  private authenticate(sasl: KafkaSaslSession, header: RequestHeaderValue, body: Message): Buffer[] | { chunks: Buffer[]; thenClose: true } {
    const answer = header.apiKey === SASL_HANDSHAKE_KEY ? sasl.handshake(body.mechanism as string) : sasl.authenticate(body.authBytes as Buffer);
    const fields =
      'mechanisms' in answer
        ? { errorCode: kafkaErrorCode(answer.errorCode), mechanisms: answer.mechanisms }
        : { errorCode: kafkaErrorCode(answer.errorCode), errorMessage: answer.errorMessage, authBytes: answer.authBytes, sessionLifetimeMs: 0 };
    if (answer.errorCode !== 'NONE') this.reportRefusal(sasl, answer);
    const chunks = encodeResponse(header.apiKey, header.apiVersion, header.correlationId, fields);
    if (header.apiKey === SASL_HANDSHAKE_KEY && header.apiVersion === 0 && answer.errorCode === 'NONE') this.rawSaslTokens = true;
    return answer.close ? { chunks, thenClose: true } : chunks;
  }

  /** A refused SASL step, for the process's audit log and /metrics. */
  private reportRefusal(sasl: KafkaSaslSession, answer: SaslAnswer): void {
    this.options.security?.onRefused({
      host: this.aclHost,
      listener: `kafka-${this.options.name}`,
      ...sasl.attempt,
      code: answer.errorCode,
      reason: answer.errorMessage ?? '',
    });
  }

  /** A bare SASL token (after SaslHandshake v0), answered with a bare token; a failure closes the connection without one, as Kafka. */
  private rawToken(sasl: KafkaSaslSession, token: Buffer): Buffer[] | 'close' {
    const answer = sasl.authenticate(token);
    if (answer.errorCode !== 'NONE') {
      this.reportRefusal(sasl, answer);
      return 'close';
    }
    if (sasl.authenticated) this.rawSaslTokens = false;
    const size = Buffer.alloc(4);
    size.writeInt32BE(answer.authBytes.length, 0);
    return [size, answer.authBytes];
  }
}
