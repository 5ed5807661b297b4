// Client authentication on the HTTP listeners, sans-I/O (clock and randomness injected).
//
// The scheme: a SCRAM exchange (RFC 5802/7677 messages, verbatim) in two msgpack calls to
// `POST /auth/scram` — { mechanism, message: client-first } → { exchangeId, message: server-first },
// then { exchangeId, message: client-final } → { message: server-final, token, lifetimeMs } — and
// from then on `Authorization: Bearer <token>` on every request to that process (RFC 6750's
// header). Kafka likewise authenticates a connection once with SASL (its SaslAuthenticate frames
// carry the same SCRAM bytes) and then trusts the connection; an HTTP client has no connection
// to trust, so the token stands for it. Why not RFC 7804 (SCRAM in WWW-Authenticate) on every
// request: it costs two extra round trips per request unless its optional re-authentication
// shortcut is built, and that shortcut is such a session id anyway. Why not HTTP Basic for
// clients: every request would carry the password and cost a PBKDF2 (~ms) unless cached, and
// the server could not prove it holds the credential. The password never crosses the wire;
// the server proves it holds the user's credential (server-final), the token is random, lives
// in this process only (a restart ends it: the client authenticates again), expires after
// `lifetimeMs`, and dies as soon as the user's credential is deleted or changed.
//
// HTTP Basic (a user name and password checked against the SCRAM credentials, Kafka's SASL/PLAIN
// against a SCRAM store) is accepted too, for what cannot run SCRAM: a browser on the web
// console, curl, a Prometheus scraper. Its checks are cached for a minute (PBKDF2 per request
// would be the cost), keyed by a hash of the pair, and dropped with the credential.

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { TributaryError } from '@tributary/protocol';
import { userPrincipal, type Principal } from './principal.ts';
import {
  SCRAM_ITERATIONS_DEFAULT,
  SCRAM_MECHANISMS,
  ScramServer,
  deriveCredential,
  isScramMechanism,
  passwordMatches,
  scramHash,
  type ScramCredential,
  type ScramMechanism,
} from './scram.ts';

export type CredentialLookup = (user: string, mechanism: ScramMechanism) => ScramCredential | undefined;

export interface ScramSessionsOptions {
  credentials: CredentialLookup;
  now?: () => number;
  random?: (bytes: number) => Buffer;
  /** How long a token is good for. Default 1 hour (the client authenticates again before). */
  lifetimeMs?: number;
  /** How long a started exchange waits for its final message. Default 10 s. */
  exchangeTimeoutMs?: number;
  /** Exchanges waiting at once; more are refused (unauthenticated callers start them). Default 10,000. */
  exchangesMax?: number;
  /** Live tokens; the oldest goes when full. Default 100,000. */
  sessionsMax?: number;
  /** How long a checked Basic pair is remembered. Default 60 s. */
  plainCacheMs?: number;
}

interface Exchange {
  server: ScramServer;
  mechanism: ScramMechanism;
  expiresMs: number;
}

interface Session {
  principal: Principal;
  user: string;
  mechanism: ScramMechanism;
  /** The credential it was made with: a changed or deleted credential ends the session. */
  storedKey: Buffer;
  expiresMs: number;
}

export interface ScramStartAnswer {
  exchangeId: string;
  message: string;
}

export interface ScramFinishAnswer {
  message: string;
  token: string;
  lifetimeMs: number;
}

function fail(message: string): TributaryError {
  return new TributaryError('SASL_AUTHENTICATION_FAILED', message);
}

export class ScramSessions {
  private readonly credentials: CredentialLookup;
  private readonly now: () => number;
  private readonly random: (bytes: number) => Buffer;
  private readonly lifetimeMs: number;
  private readonly exchangeTimeoutMs: number;
  private readonly exchangesMax: number;
  private readonly sessionsMax: number;
  private readonly plainCacheMs: number;
  private readonly exchanges = new Map<string, Exchange>();
  private readonly sessions = new Map<string, Session>();
  private readonly plainChecked = new Map<string, Session>();
  /** Makes unknown users' salts: stable per user within this process, unguessable outside it. */
  private readonly fakeSecret: Buffer;

  constructor(options: ScramSessionsOptions) {
    this.credentials = options.credentials;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? randomBytes;
    this.lifetimeMs = options.lifetimeMs ?? 3_600_000;
    this.exchangeTimeoutMs = options.exchangeTimeoutMs ?? 10_000;
    this.exchangesMax = options.exchangesMax ?? 10_000;
    this.sessionsMax = options.sessionsMax ?? 100_000;
    this.plainCacheMs = options.plainCacheMs ?? 60_000;
    this.fakeSecret = this.random(32);
  }

  /** client-first → server-first, and the id of the exchange to finish. */
  start(mechanism: unknown, clientFirst: unknown): ScramStartAnswer {
    if (!isScramMechanism(mechanism)) {
      throw new TributaryError(
        'UNSUPPORTED_SASL_MECHANISM',
        `mechanism ${JSON.stringify(mechanism)} is not offered; use one of ${SCRAM_MECHANISMS.join(', ')}`,
      );
    }
    if (typeof clientFirst !== 'string' || clientFirst.length > 1024) throw fail('client-first message missing or too long');
    const now = this.now();
    this.expire(now);
    if (this.exchanges.size >= this.exchangesMax) throw fail('too many SCRAM exchanges in progress; try again shortly');
    const hash = scramHash(mechanism);
    const server = new ScramServer(
      hash,
      (user) => this.credentials(user, mechanism),
      this.random(18).toString('base64'),
      (user) => this.fake(mechanism, user),
    );
    const message = server.handleFirst(clientFirst);
    const exchangeId = this.random(18).toString('base64url');
    this.exchanges.set(exchangeId, { server, mechanism, expiresMs: now + this.exchangeTimeoutMs });
    return { exchangeId, message };
  }

  /** client-final → server-final and a bearer token; SASL_AUTHENTICATION_FAILED otherwise. */
  finish(exchangeId: unknown, clientFinal: unknown): ScramFinishAnswer & { principal: Principal } {
    const { message, user, mechanism, credential, principal } = this.complete(exchangeId, clientFinal);
    const now = this.now();
    const token = this.random(32).toString('base64url');
    if (this.sessions.size >= this.sessionsMax) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(token, { principal, user, mechanism, storedKey: credential.storedKey, expiresMs: now + this.lifetimeMs });
    return { message, token, lifetimeMs: this.lifetimeMs, principal };
  }

  /**
   * client-final → server-final and the principal, without a token: a Kafka connection is
   * authenticated once by SaslAuthenticate and trusted for its life, as in Kafka.
   */
  complete(
    exchangeId: unknown,
    clientFinal: unknown,
  ): { message: string; user: string; mechanism: ScramMechanism; credential: ScramCredential; principal: Principal } {
    if (typeof exchangeId !== 'string' || typeof clientFinal !== 'string' || clientFinal.length > 1024) throw fail('malformed SCRAM final message');
    const exchange = this.exchanges.get(exchangeId);
    this.exchanges.delete(exchangeId);
    if (exchange === undefined || exchange.expiresMs < this.now()) throw fail('unknown or expired SCRAM exchange; start again');
    const { serverFinal, user } = exchange.server.handleFinal(clientFinal);
    const credential = this.credentials(user, exchange.mechanism)!;
    return { message: serverFinal, user, mechanism: exchange.mechanism, credential, principal: userPrincipal(user, 'scram') };
  }

  /** The principal of a bearer token; SASL_AUTHENTICATION_FAILED when unknown, expired or revoked. */
  verifyToken(token: string): Principal {
    const session = this.sessions.get(token);
    if (session === undefined) throw fail('unknown session token (this process restarted, or it was never issued here): authenticate again');
    if (session.expiresMs < this.now() || !this.stillValid(session)) {
      this.sessions.delete(token);
      throw fail('the session has expired or its credential was changed: authenticate again');
    }
    return session.principal;
  }

  /** A user name and password checked against the stored credentials (HTTP Basic, SASL/PLAIN). */
  verifyPlain(user: string, password: string): Principal {
    const now = this.now();
    const key = createHash('sha256').update(user).update('\u0000').update(password).digest('base64');
    const cached = this.plainChecked.get(key);
    if (cached !== undefined && cached.expiresMs >= now && this.stillValid(cached)) return cached.principal;
    this.plainChecked.delete(key);
    for (const mechanism of SCRAM_MECHANISMS) {
      const credential = this.credentials(user, mechanism);
      if (credential === undefined || !passwordMatches(scramHash(mechanism), credential, password)) continue;
      const principal = userPrincipal(user, 'plain');
      if (this.plainChecked.size >= 10_000) this.plainChecked.delete(this.plainChecked.keys().next().value!);
      this.plainChecked.set(key, { principal, user, mechanism, storedKey: credential.storedKey, expiresMs: now + this.plainCacheMs });
      return principal;
    }
    throw fail(`authentication failed for user '${user}'`);
  }

  /**
   * An `Authorization` header: `Bearer <token>` or `Basic <base64(user:password)>`. Nothing, or
   * anything else, is SASL_AUTHENTICATION_FAILED saying what to send.
   */
  authenticate(authorization: string | undefined): Principal {
    if (authorization === undefined || authorization === '')
      throw fail('this listener requires authentication: give a user and password (--user/--password, TRIBUTARY_USER/TRIBUTARY_PASSWORD)');
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer') return this.verifyToken(value);
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw fail('malformed Basic credentials');
      return this.verifyPlain(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    throw fail(`unsupported authorization scheme '${authorization.slice(0, Math.max(0, space)).slice(0, 20)}'; use SCRAM (POST /auth/scram) or Basic`);
  }

  /** Exchanges in progress and live tokens (for metrics and tests). */
  get counts(): { exchanges: number; sessions: number } {
    return { exchanges: this.exchanges.size, sessions: this.sessions.size };
  }

  private stillValid(session: Session): boolean {
    const credential = this.credentials(session.user, session.mechanism);
    return credential !== undefined && credential.storedKey.length === session.storedKey.length && timingSafeEqual(credential.storedKey, session.storedKey);
  }

  private fake(mechanism: ScramMechanism, user: string): ScramCredential {
    const salt = createHmac('sha256', this.fakeSecret).update(`${mechanism}\u0000${user}`).digest();
    // Keys no proof can match; computing a real credential would cost a PBKDF2 per stranger.
    return { salt, storedKey: this.random(64), serverKey: this.random(64), iterations: SCRAM_ITERATIONS_DEFAULT };
  }

  private expire(now: number): void {
    for (const [id, exchange] of this.exchanges) {
      // Insertion order is expiry order (every exchange gets the same timeout).
      if (exchange.expiresMs >= now) break;
      this.exchanges.delete(id);
    }
  }
}

/** A credential for a new user (random salt), as `users add` and the bootstrap user make them. */
export function newCredential(mechanism: ScramMechanism, password: string, iterations = SCRAM_ITERATIONS_DEFAULT): ScramCredential {
  return deriveCredential(scramHash(mechanism), password, randomBytes(32), iterations);
}
