import { describe, expect, it } from 'vitest';
import { Authorizer } from './authorizer.ts';
import { ANONYMOUS, parseSuperUsers, userPrincipal } from './principal.ts';
import { ScramClient, deriveCredential, scramHash, type ScramCredential, type ScramMechanism } from './scram.ts';
import { ScramSessions } from './sessions.ts';

function setup(lifetimeMs = 1000) {
  let now = 0;
  const store = new Map<string, ScramCredential>();
  const put = (user: string, mechanism: ScramMechanism, password: string) =>
    store.set(`${user}/${mechanism}`, deriveCredential(scramHash(mechanism), password, Buffer.from(`salt-${user}`), 4096));
  put('alice', 'SCRAM-SHA-256', 'pw');
  put('alice', 'SCRAM-SHA-512', 'pw');
  const sessions = new ScramSessions({ credentials: (u, m) => store.get(`${u}/${m}`), now: () => now, lifetimeMs, exchangeTimeoutMs: 100 });
  const login = (user: string, password: string, mechanism: ScramMechanism = 'SCRAM-SHA-256') => {
    const client = new ScramClient(scramHash(mechanism), user, password, `nonce${Math.random().toString(36).slice(2)}`);
    const first = sessions.start(mechanism, client.firstMessage());
    const done = sessions.finish(first.exchangeId, client.finalMessage(first.message));
    client.verifyServerFinal(done.message);
    return done;
  };
  return { sessions, store, put, login, advance: (ms: number) => (now += ms) };
}

describe('ScramSessions', () => {
  it('a SCRAM exchange gives a token that authenticates as the user, with either mechanism', () => {
    const { sessions, login } = setup();
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
      const { token } = login('alice', 'pw', mechanism);
      expect(sessions.authenticate(`Bearer ${token}`)).toEqual({ name: 'User:alice', via: 'scram' });
    }
  });

  it('a wrong password gets no token', () => {
    const { login } = setup();
    expect(() => login('alice', 'nope')).toThrow(expect.objectContaining({ code: 'SASL_AUTHENTICATION_FAILED' }));
  });

  it('no header, an unknown token, an unknown scheme: SASL_AUTHENTICATION_FAILED saying what to do', () => {
    const { sessions } = setup();
    expect(() => sessions.authenticate(undefined)).toThrow(/requires authentication/);
    expect(() => sessions.authenticate('Bearer made-up')).toThrow(/unknown session token/);
    expect(() => sessions.authenticate('Digest x')).toThrow(/unsupported authorization scheme/);
  });

  it('tokens expire', () => {
    const { sessions, login, advance } = setup(1000);
    const { token } = login('alice', 'pw');
    advance(1001);
    expect(() => sessions.verifyToken(token)).toThrow(/expired/);
  });

  it('deleting or changing the credential ends its sessions at once', () => {
    const { sessions, login, store, put } = setup();
    const a = login('alice', 'pw');
    put('alice', 'SCRAM-SHA-256', 'new');
    expect(() => sessions.verifyToken(a.token)).toThrow(/changed/);
    const b = login('alice', 'new');
    store.delete('alice/SCRAM-SHA-256');
    expect(() => sessions.verifyToken(b.token)).toThrow(/changed/);
  });

  it('an exchange must finish in time, once', () => {
    const { sessions, advance } = setup();
    const client = new ScramClient('sha256', 'alice', 'pw', 'n');
    const first = sessions.start('SCRAM-SHA-256', client.firstMessage());
    advance(101);
    expect(() => sessions.finish(first.exchangeId, client.finalMessage(first.message))).toThrow(/expired/);
    expect(() => sessions.start('SCRAM-SHA-1', 'n,,n=a,r=b')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_SASL_MECHANISM' }));
  });

  it('Basic checks the password against the SCRAM credential (SASL/PLAIN) and caches it', () => {
    const { sessions, put } = setup();
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    expect(sessions.authenticate(basic('alice', 'pw'))).toEqual({ name: 'User:alice', via: 'plain' });
    expect(() => sessions.authenticate(basic('alice', 'bad'))).toThrow(/authentication failed/);
    expect(() => sessions.authenticate(basic('bob', 'pw'))).toThrow(/authentication failed/);
    put('alice', 'SCRAM-SHA-256', 'other');
    put('alice', 'SCRAM-SHA-512', 'other');
    expect(() => sessions.authenticate(basic('alice', 'pw'))).toThrow(/authentication failed/);
  });
});

describe('Authorizer', () => {
  const binding = {
    principal: 'User:alice',
    host: '*',
    operation: 'Write',
    permission: 'Allow',
    resourceType: 'Topic',
    resourceName: 'orders',
    patternType: 'Literal',
  } as const;

  it('checks ACLs, reports refusals, lets super users and cluster processes through, and throws Kafka errors', () => {
    const denials: unknown[] = [];
    let acls = { version: 1, bindings: [binding] as (typeof binding)[] };
    const authz = new Authorizer({ enabled: true, acls: () => acls, superUsers: parseSuperUsers('User:admin;User:ops'), onDenied: (d) => denials.push(d) });
    const alice = userPrincipal('alice', 'scram');
    expect(authz.allows(alice, '1.2.3.4', 'Write', 'Topic', 'orders')).toBe(true);
    expect(authz.allows(alice, '1.2.3.4', 'Read', 'Topic', 'orders')).toBe(false);
    expect(denials).toEqual([{ principal: 'User:alice', host: '1.2.3.4', operation: 'Read', resourceType: 'Topic', resourceName: 'orders', reason: 'no-acl' }]);
    expect(authz.allows(userPrincipal('admin', 'plain'), 'h', 'Delete', 'Cluster')).toBe(true);
    expect(authz.allows({ name: 'User:broker-3', via: 'certificate' }, 'h', 'ClusterAction', 'Cluster')).toBe(true);
    expect(() => authz.require(alice, 'h', 'Read', 'Group', 'g')).toThrow(expect.objectContaining({ code: 'GROUP_AUTHORIZATION_FAILED' }));
    expect(authz.allowsAny(alice, 'h', 'Write', 'Topic')).toBe(true);
    // A new version of the bindings is seen at once (the cached allow goes).
    acls = { version: 2, bindings: [] };
    expect(authz.allows(alice, '1.2.3.4', 'Write', 'Topic', 'orders')).toBe(false);
  });

  it('allows everything when security is off', () => {
    const authz = new Authorizer({ enabled: false, acls: () => ({ version: 0, bindings: [] }), superUsers: new Set() });
    expect(authz.allows(ANONYMOUS, 'h', 'Delete', 'Topic', 't')).toBe(true);
  });

  it('parses super.users as Kafka writes it', () => {
    expect([...parseSuperUsers('User:a; User:b,User:c')]).toEqual(['User:a', 'User:b', 'User:c']);
    expect(() => parseSuperUsers('admin')).toThrow();
  });
});
