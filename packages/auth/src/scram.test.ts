import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ScramClient,
  ScramServer,
  deriveCredential,
  escapeUsername,
  passwordMatches,
  saltedPassword,
  credentialFromSaltedPassword,
  unescapeUsername,
  type ScramCredential,
  type ScramHash,
} from './scram.ts';

/** An exchange driven from recorded messages: the RFC's vectors, byte for byte. */
function vector(hash: ScramHash, v: { user: string; password: string; clientNonce: string; serverNonce: string; salt: string; iterations: number }) {
  const credential = deriveCredential(hash, v.password, Buffer.from(v.salt, 'base64'), v.iterations);
  const client = new ScramClient(hash, v.user, v.password, v.clientNonce);
  const server = new ScramServer(
    hash,
    (u) => (u === v.user ? credential : undefined),
    v.serverNonce,
    () => credential,
  );
  const clientFirst = client.firstMessage();
  const serverFirst = server.handleFirst(clientFirst);
  const clientFinal = client.finalMessage(serverFirst);
  const { serverFinal, user } = server.handleFinal(clientFinal);
  client.verifyServerFinal(serverFinal);
  return { clientFirst, serverFirst, clientFinal, serverFinal, user };
}

describe('SCRAM test vectors', () => {
  it('RFC 5802 § 5 (SCRAM-SHA-1)', () => {
    expect(
      vector('sha1', {
        user: 'user',
        password: 'pencil',
        clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
        serverNonce: '3rfcNHYJY1ZVvWVs7j',
        salt: 'QSXCR+Q6sek8bf92',
        iterations: 4096,
      }),
    ).toEqual({
      clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
      user: 'user',
    });
  });

  it('RFC 7677 § 3 (SCRAM-SHA-256)', () => {
    expect(
      vector('sha256', {
        user: 'user',
        password: 'pencil',
        clientNonce: 'rOprNGfwEbeRWgbNEkqO',
        serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
        salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
        iterations: 4096,
      }),
    ).toEqual({
      clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
      user: 'user',
    });
  });

  it('SCRAM-SHA-512 round trip (no RFC vector): 64-byte keys, a proof the server accepts', () => {
    const r = vector('sha512', {
      user: 'alice',
      password: 'secret',
      clientNonce: 'abc',
      serverNonce: 'def',
      salt: randomBytes(32).toString('base64'),
      iterations: 4096,
    });
    expect(r.user).toBe('alice');
    expect(Buffer.from(r.serverFinal.slice(2), 'base64')).toHaveLength(64);
  });
});

describe('SCRAM refusals', () => {
  const salt = randomBytes(16);
  const credential = deriveCredential('sha256', 'right', salt, 4096);
  const fake = (u: string): ScramCredential => deriveCredential('sha256', `fake:${u}`, Buffer.from(u.padEnd(16, '.')), 4096);
  const server = () => new ScramServer('sha256', (u) => (u === 'alice' ? credential : undefined), 'SERVERNONCE', fake);

  it('a wrong password fails at the proof', () => {
    const s = server();
    const c = new ScramClient('sha256', 'alice', 'wrong', 'n1');
    const final = c.finalMessage(s.handleFirst(c.firstMessage()));
    expect(() => s.handleFinal(final)).toThrow(expect.objectContaining({ code: 'SASL_AUTHENTICATION_FAILED' }));
  });

  it('an unknown user gets a salt all the same, and fails at the proof', () => {
    const s = server();
    const c = new ScramClient('sha256', 'mallory', 'x', 'n1');
    const serverFirst = s.handleFirst(c.firstMessage());
    expect(serverFirst).toMatch(/^r=n1SERVERNONCE,s=.+,i=4096$/);
    expect(() => s.handleFinal(c.finalMessage(serverFirst))).toThrow(expect.objectContaining({ code: 'SASL_AUTHENTICATION_FAILED' }));
  });

  it('a replayed or altered final is refused', () => {
    const s = server();
    const c = new ScramClient('sha256', 'alice', 'right', 'n1');
    const final = c.finalMessage(s.handleFirst(c.firstMessage()));
    const tampered = final.replace('r=n1SERVERNONCE', 'r=n1OTHER');
    expect(() => s.handleFinal(tampered)).toThrow(/nonce/);
    expect(() => s.handleFinal(final)).toThrow(/out of order/);
  });

  it("accepts librdkafka's final nonce (its client nonce again before the whole nonce), proof computed over it, and nothing else", () => {
    // What librdkafka 2.0 sends: c=biws,r=<cnonce><cnonce+snonce>,p=<proof over that message>.
    const finalWith = (nonce: string, password = 'right') => {
      const s = server();
      const clientFirstBare = 'n=alice,r=n1';
      const serverFirst = s.handleFirst(`n,,${clientFirstBare}`);
      const salt = Buffer.from(/s=([^,]+)/.exec(serverFirst)![1]!, 'base64');
      const salted = saltedPassword('sha256', password, salt, 4096);
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=biws,r=${nonce}`;
      const signature = createHmac('sha256', storedKey).update(`${clientFirstBare},${serverFirst},${withoutProof}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      return () => s.handleFinal(`${withoutProof},p=${proof.toString('base64')}`);
    };
    expect(finalWith('n1n1SERVERNONCE')().user).toBe('alice');
    expect(finalWith('n1SERVERNONCE')().user).toBe('alice');
    expect(finalWith('xxn1SERVERNONCE')).toThrow(/nonce/);
    expect(finalWith('n1n1SERVERNONCE', 'wrong')).toThrow(expect.objectContaining({ code: 'SASL_AUTHENTICATION_FAILED' }));
  });

  it('the client refuses a server that does not hold the credential (a forged signature)', () => {
    const s = server();
    const c = new ScramClient('sha256', 'alice', 'right', 'n1');
    const { serverFinal } = s.handleFinal(c.finalMessage(s.handleFirst(c.firstMessage())));
    c.verifyServerFinal(serverFinal);
    const forged = `v=${Buffer.alloc(32, 7).toString('base64')}`;
    expect(() => c.verifyServerFinal(forged)).toThrow(expect.objectContaining({ code: 'SASL_AUTHENTICATION_FAILED' }));
    expect(() => c.verifyServerFinal('e=invalid-proof')).toThrow(/invalid-proof/);
  });

  it('refuses channel binding, extensions and malformed messages', () => {
    expect(() => server().handleFirst('p=tls-unique,,n=alice,r=x')).toThrow(/channel binding/);
    expect(() => server().handleFirst('n,,n=alice,r=x,m=ext')).toThrow(/extensions/);
    expect(() => server().handleFirst('n,,r=x')).toThrow(/no user/);
    expect(() => server().handleFirst('n,,n=alice,r=x,r=y')).toThrow(/twice/);
    expect(() => server().handleFirst('garbage')).toThrow(/malformed/);
  });

  it('the client refuses a nonce that does not extend its own, and absurd iteration counts', () => {
    const c = new ScramClient('sha256', 'alice', 'right', 'n1');
    c.firstMessage();
    expect(() => c.finalMessage('r=other,s=QUJD,i=4096')).toThrow(/nonce/);
    expect(() => c.finalMessage('r=n1x,s=QUJD,i=1')).toThrow(/iterations/);
  });
});

describe('SCRAM credentials', () => {
  it('names with = and , are escaped and come back', () => {
    expect(escapeUsername('a=b,c')).toBe('a=3Db=2Cc');
    expect(unescapeUsername('a=3Db=2Cc')).toBe('a=b,c');
    expect(() => unescapeUsername('a=b')).toThrow();
    const credential = deriveCredential('sha256', 'pw', Buffer.from('salt'), 4096);
    const s = new ScramServer(
      'sha256',
      (u) => (u === 'a=b,c' ? credential : undefined),
      'S',
      () => credential,
    );
    const c = new ScramClient('sha256', 'a=b,c', 'pw', 'N');
    expect(s.handleFinal(c.finalMessage(s.handleFirst(c.firstMessage()))).user).toBe('a=b,c');
  });

  it('the stored form is the same from a password or from its salted password (AlterUserScramCredentials)', () => {
    const salt = Buffer.from('0123456789abcdef');
    expect(credentialFromSaltedPassword('sha512', saltedPassword('sha512', 'pw', salt, 8192), salt, 8192)).toEqual(
      deriveCredential('sha512', 'pw', salt, 8192),
    );
  });

  it('passwordMatches checks a plain password against the stored keys (SASL/PLAIN)', () => {
    const credential = deriveCredential('sha256', 'pw', Buffer.from('salt'), 4096);
    expect(passwordMatches('sha256', credential, 'pw')).toBe(true);
    expect(passwordMatches('sha256', credential, 'pw2')).toBe(false);
  });

  it('the salted password can be derived once for many exchanges', () => {
    const credential = deriveCredential('sha256', 'pw', Buffer.from('salt'), 4096);
    let derived = 0;
    const cache = (salt: Buffer, i: number) => {
      derived++;
      return saltedPassword('sha256', 'pw', salt, i);
    };
    const memo = new Map<string, Buffer>();
    const cached = (salt: Buffer, i: number) =>
      memo.get(`${salt.toString('hex')}:${i}`) ?? memo.set(`${salt.toString('hex')}:${i}`, cache(salt, i)).get(`${salt.toString('hex')}:${i}`)!;
    for (let k = 0; k < 3; k++) {
      const s = new ScramServer(
        'sha256',
        () => credential,
        'S',
        () => credential,
      );
      const c = new ScramClient('sha256', 'u', cached, `N${k}`);
      c.verifyServerFinal(s.handleFinal(c.finalMessage(s.handleFirst(c.firstMessage()))).serverFinal);
    }
    expect(derived).toBe(1);
  });
});
