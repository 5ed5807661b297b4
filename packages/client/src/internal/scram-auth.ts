// The client's side of SCRAM on the HTTP listeners (issue 20; the scheme: @tributary/auth's
// sessions.ts): a SCRAM exchange with each process it calls, the first time it calls it, ending
// in a bearer token for that process. The salted password (PBKDF2, the expensive part) is
// derived once per salt and iteration count, so six brokers cost one derivation.

import { randomBytes } from 'node:crypto';
import { ScramClient, saltedPassword, scramHash, type ScramMechanism } from '@tributary/auth';
import { TributaryError, type ScramAuthResponse } from '@tributary/protocol';
import type { Authorization, CallAuthenticator, RpcClient } from '@tributary/transport/client';

export interface Credentials {
  user: string;
  password: string;
  /** Default SCRAM-SHA-256. */
  mechanism?: ScramMechanism;
}

export function scramAuthenticator(credentials: Credentials): CallAuthenticator {
  const mechanism = credentials.mechanism ?? 'SCRAM-SHA-256';
  const hash = scramHash(mechanism);
  const salted = new Map<string, Buffer>();
  const derive = (salt: Buffer, iterations: number): Buffer => {
    const key = `${salt.toString('base64')}:${iterations}`;
    let value = salted.get(key);
    if (value === undefined) {
      value = saltedPassword(hash, credentials.password, salt, iterations);
      salted.set(key, value);
    }
    return value;
  };
  return {
    async authorize(peer: RpcClient): Promise<Authorization> {
      const client = new ScramClient(hash, credentials.user, derive, randomBytes(18).toString('base64'));
      const first = await peer.call<ScramAuthResponse>('/auth/scram', { mechanism, message: client.firstMessage() }, { noAuth: true });
      if (typeof first.exchangeId !== 'string') throw new TributaryError('SASL_AUTHENTICATION_FAILED', 'the server did not start a SCRAM exchange');
      const final = await peer.call<ScramAuthResponse>(
        '/auth/scram',
        { exchangeId: first.exchangeId, message: client.finalMessage(first.message) },
        { noAuth: true },
      );
      client.verifyServerFinal(final.message);
      if (typeof final.token !== 'string') throw new TributaryError('SASL_AUTHENTICATION_FAILED', 'the server gave no session token');
      return { value: `Bearer ${final.token}`, ...(typeof final.lifetimeMs === 'number' ? { expiresAtMs: Date.now() + final.lifetimeMs } : {}) };
    },
  };
}
