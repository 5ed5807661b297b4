// SASL on a Kafka listener of a secure cluster (issue 20), one state machine per connection,
// sans-I/O: Kafka's SaslServerAuthenticator in the order its clients expect. After ApiVersions
// (optional), SaslHandshake v1 names the mechanism, then SaslAuthenticate frames carry its
// tokens: SCRAM-SHA-256/512 (RFC 5802/7677: client-first → server-first, client-final →
// server-final) or PLAIN (RFC 4616: authzid NUL user NUL password, against the same SCRAM
// credentials). Nothing else is served until it succeeds; a failure is answered with
// SASL_AUTHENTICATION_FAILED and the connection closed, as Kafka does. The connection is then
// trusted for its life (no re-authentication, KIP-368: the session lifetime answered is 0).
//
// A client certificate signed by the cluster CA authenticates the connection before any SASL
// (Kafka's SSL principal): cluster processes and certificate users need no password.

import { TributaryError } from '@tributary/protocol';
import { userPrincipal, type Principal, type ScramSessions } from '@tributary/auth';

export const KAFKA_SASL_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** Longest SaslAuthenticate token accepted (SCRAM messages are ~200 bytes; a PLAIN triple is small too). */
const AUTH_BYTES_MAX = 4096;

export interface SaslAnswer {
  /** The response's fields (errorCode 0 on success). */
  errorCode: 'NONE' | 'UNSUPPORTED_SASL_MECHANISM' | 'ILLEGAL_SASL_STATE' | 'SASL_AUTHENTICATION_FAILED';
  errorMessage: string | null;
  /** Close the connection once the answer is written. */
  close: boolean;
}

type State =
  | { kind: 'handshake' }
  | { kind: 'scram-first'; mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' }
  | { kind: 'scram-final'; mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; exchangeId: string }
  | { kind: 'plain' }
  | { kind: 'done' }
  | { kind: 'failed' };

export class KafkaSaslSession {
  private readonly sessions: ScramSessions;
  private state: State = { kind: 'handshake' };
  private principalValue: Principal | undefined;
  private mechanismValue: KafkaSaslMechanism | undefined;
  private userValue: string | undefined;

  /** `certificate`: the principal a verified client certificate gives (the connection is authenticated already). */
  constructor(sessions: ScramSessions, certificate?: Principal) {
    this.sessions = sessions;
    this.principalValue = certificate;
  }

  /** Who the connection is, once authenticated. */
  get principal(): Principal | undefined {
    return this.principalValue;
  }

  get authenticated(): boolean {
    return this.principalValue !== undefined && this.state.kind !== 'failed';
  }

  /** The mechanism and user being authenticated, for the audit log. */
  get attempt(): { mechanism?: string; user?: string } {
    return { ...(this.mechanismValue ? { mechanism: this.mechanismValue } : {}), ...(this.userValue !== undefined ? { user: this.userValue } : {}) };
  }

  /** SaslHandshake: chooses the mechanism. */
  handshake(mechanism: string): SaslAnswer & { mechanisms: string[] } {
    const mechanisms = [...KAFKA_SASL_MECHANISMS];
    if (this.state.kind !== 'handshake')
      return { errorCode: 'ILLEGAL_SASL_STATE', errorMessage: 'SaslHandshake is sent once, before SaslAuthenticate', close: true, mechanisms };
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
      this.state = { kind: 'failed' };
      return {
        errorCode: 'UNSUPPORTED_SASL_MECHANISM',
        errorMessage: `mechanism '${mechanism.slice(0, 64)}' is not offered; use one of ${mechanisms.join(', ')}`,
        close: true,
        mechanisms,
      };
    }
    this.mechanismValue = mechanism as KafkaSaslMechanism;
    this.state = mechanism === 'PLAIN' ? { kind: 'plain' } : { kind: 'scram-first', mechanism: mechanism as 'SCRAM-SHA-256' | 'SCRAM-SHA-512' };
    return { errorCode: 'NONE', errorMessage: null, close: false, mechanisms };
  }

  /** SaslAuthenticate: one token of the mechanism's exchange, and the token to answer with. */
  authenticate(authBytes: Buffer): SaslAnswer & { authBytes: Buffer; error?: TributaryError } {
    const state = this.state;
    const refuse = (err: TributaryError): SaslAnswer & { authBytes: Buffer; error: TributaryError } => {
      this.state = { kind: 'failed' };
      this.principalValue = undefined;
      return { errorCode: 'SASL_AUTHENTICATION_FAILED', errorMessage: err.message, close: true, authBytes: Buffer.alloc(0), error: err };
    };
    if (state.kind === 'handshake' || state.kind === 'done' || state.kind === 'failed') {
      return {
        errorCode: 'ILLEGAL_SASL_STATE',
        errorMessage: state.kind === 'handshake' ? 'SaslAuthenticate before SaslHandshake' : 'the connection is authenticated already',
        close: true,
        authBytes: Buffer.alloc(0),
      };
    }
    if (authBytes.length > AUTH_BYTES_MAX)
      return refuse(new TributaryError('SASL_AUTHENTICATION_FAILED', `SASL token of ${authBytes.length} bytes is too long`));
    try {
      if (state.kind === 'plain') {
        const [authzid, user, password, ...rest] = authBytes.toString('utf8').split('\u0000');
        if (user === undefined || password === undefined || rest.length > 0 || user === '')
          throw new TributaryError('SASL_AUTHENTICATION_FAILED', 'malformed PLAIN token: expected authzid NUL user NUL password');
        this.userValue = user;
        if (authzid !== '' && authzid !== user)
          throw new TributaryError('SASL_AUTHENTICATION_FAILED', `user '${user}' cannot act as '${authzid}': the authorization id must be empty or the user`);
        this.principalValue = this.sessions.verifyPlain(user, password);
        this.state = { kind: 'done' };
        return { errorCode: 'NONE', errorMessage: null, close: false, authBytes: Buffer.alloc(0) };
      }
      if (state.kind === 'scram-first') {
        const clientFirst = authBytes.toString('utf8');
        this.userValue = /(?:^|,)n=([^,]*)/.exec(clientFirst.replace(/^[^,]*,[^,]*,/, ''))?.[1];
        const started = this.sessions.start(state.mechanism, clientFirst);
        this.state = { kind: 'scram-final', mechanism: state.mechanism, exchangeId: started.exchangeId };
        return { errorCode: 'NONE', errorMessage: null, close: false, authBytes: Buffer.from(started.message, 'utf8') };
      }
      const done = this.sessions.complete(state.exchangeId, authBytes.toString('utf8'));
      this.principalValue = done.principal;
      this.state = { kind: 'done' };
      return { errorCode: 'NONE', errorMessage: null, close: false, authBytes: Buffer.from(done.message, 'utf8') };
    } catch (err) {
      if (err instanceof TributaryError)
        return refuse(err.code === 'SASL_AUTHENTICATION_FAILED' ? err : new TributaryError('SASL_AUTHENTICATION_FAILED', err.message));
      throw err;
    }
  }
}

/** The principal of a verified client certificate's common name. */
export function certificatePrincipal(commonName: string): Principal {
  return userPrincipal(commonName, 'certificate');
}
