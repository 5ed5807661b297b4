import { describe, expect, it } from 'vitest';
import { ScramClient, ScramSessions, newCredential, userPrincipal, type ScramCredential, type ScramMechanism } from '@tributary/auth';
import { KafkaSaslSession } from './kafka-sasl.ts';

const USERS = new Map<string, Map<ScramMechanism, ScramCredential>>([
  [
    'alice',
    new Map([
      ['SCRAM-SHA-256', newCredential('SCRAM-SHA-256', 'alice-secret')],
      ['SCRAM-SHA-512', newCredential('SCRAM-SHA-512', 'alice-secret')],
    ]),
  ],
]);

function session(certificate?: ReturnType<typeof userPrincipal>): KafkaSaslSession {
  return new KafkaSaslSession(new ScramSessions({ credentials: (user, mechanism) => USERS.get(user)?.get(mechanism) }), certificate);
}

const plain = (authzid: string, user: string, password: string) => Buffer.from(`${authzid}\u0000${user}\u0000${password}`);

describe('KafkaSaslSession (SASL on a secure Kafka listener)', () => {
  it.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const)(
    '%s: a full exchange authenticates the user, and the server proves it holds the credential',
    (mechanism) => {
      const s = session();
      expect(s.authenticated).toBe(false);
      expect(s.handshake(mechanism)).toMatchObject({ errorCode: 'NONE', close: false, mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] });
      const client = new ScramClient(mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', 'alice', 'alice-secret', 'clientnonce123');
      const first = s.authenticate(Buffer.from(client.firstMessage()));
      expect(first).toMatchObject({ errorCode: 'NONE', close: false });
      expect(s.authenticated).toBe(false);
      const final = s.authenticate(Buffer.from(client.finalMessage(first.authBytes.toString())));
      expect(final).toMatchObject({ errorCode: 'NONE', close: false });
      expect(() => client.verifyServerFinal(final.authBytes.toString())).not.toThrow();
      expect(s.authenticated).toBe(true);
      expect(s.principal).toEqual(userPrincipal('alice', 'scram'));
    },
  );

  it('SCRAM with a wrong password fails with SASL_AUTHENTICATION_FAILED and closes; so does an unknown user, alike', () => {
    for (const user of ['alice', 'mallory']) {
      const s = session();
      s.handshake('SCRAM-SHA-256');
      const client = new ScramClient('sha256', user, 'wrong', 'nonce42');
      const first = s.authenticate(Buffer.from(client.firstMessage()));
      expect(first.errorCode).toBe('NONE');
      const final = s.authenticate(Buffer.from(client.finalMessage(first.authBytes.toString())));
      expect(final).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });
      expect(s.authenticated).toBe(false);
      expect(s.principal).toBeUndefined();
      expect(s.attempt).toEqual({ mechanism: 'SCRAM-SHA-256', user });
    }
  });

  it('PLAIN: the password checked against the SCRAM credentials; an authzid other than the user is refused', () => {
    const ok = session();
    expect(ok.handshake('PLAIN').errorCode).toBe('NONE');
    expect(ok.authenticate(plain('', 'alice', 'alice-secret'))).toMatchObject({ errorCode: 'NONE', close: false });
    expect(ok.principal).toEqual(userPrincipal('alice', 'plain'));

    const same = session();
    same.handshake('PLAIN');
    expect(same.authenticate(plain('alice', 'alice', 'alice-secret')).errorCode).toBe('NONE');

    const wrong = session();
    wrong.handshake('PLAIN');
    expect(wrong.authenticate(plain('', 'alice', 'nope'))).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });
    expect(wrong.authenticated).toBe(false);

    const other = session();
    other.handshake('PLAIN');
    expect(other.authenticate(plain('admin', 'alice', 'alice-secret'))).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });
    expect(other.principal).toBeUndefined();

    const malformed = session();
    malformed.handshake('PLAIN');
    expect(malformed.authenticate(Buffer.from('alice:alice-secret'))).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });
  });

  it('refuses what breaks the order: an unknown mechanism, a second handshake, a token before the handshake or after success, an oversized token', () => {
    const unknown = session();
    expect(unknown.handshake('GSSAPI')).toMatchObject({ errorCode: 'UNSUPPORTED_SASL_MECHANISM', close: true });
    expect(unknown.authenticated).toBe(false);

    const early = session();
    expect(early.authenticate(Buffer.from('n,,n=alice,r=x'))).toMatchObject({ errorCode: 'ILLEGAL_SASL_STATE', close: true });

    const twice = session();
    twice.handshake('PLAIN');
    expect(twice.handshake('PLAIN')).toMatchObject({ errorCode: 'ILLEGAL_SASL_STATE', close: true });

    const done = session();
    done.handshake('PLAIN');
    done.authenticate(plain('', 'alice', 'alice-secret'));
    expect(done.authenticate(plain('', 'alice', 'alice-secret'))).toMatchObject({ errorCode: 'ILLEGAL_SASL_STATE', close: true });

    const big = session();
    big.handshake('SCRAM-SHA-512');
    expect(big.authenticate(Buffer.alloc(100_000, 0x61))).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });

    const junk = session();
    junk.handshake('SCRAM-SHA-256');
    expect(junk.authenticate(Buffer.from('not scram at all'))).toMatchObject({ errorCode: 'SASL_AUTHENTICATION_FAILED', close: true });
  });

  it('a connection with a cluster certificate is authenticated before any SASL', () => {
    const s = session(userPrincipal('broker-2', 'certificate'));
    expect(s.authenticated).toBe(true);
    expect(s.principal).toEqual(userPrincipal('broker-2', 'certificate'));
  });
});
