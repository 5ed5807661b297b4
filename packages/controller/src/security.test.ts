import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ScramClient, ScramServer, saltedPassword, type ScramCredential } from '@tributary/auth';
import { ClusterController } from './cluster-controller.ts';
import { MemoryMetadataLog } from './metadata-log.ts';
import { clusterOf } from './internal/fixtures.ts';
import { alterUserScramCredentials, createAcls, deleteAcls } from './security.ts';

const logger = pino({ level: 'silent' });
const salt = Buffer.from('0123456789abcdef');
const upsert = (name: string, password: string, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' = 'SCRAM-SHA-256', iterations = 4096) => ({
  name,
  mechanism,
  iterations,
  salt,
  saltedPassword: saltedPassword(mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512', password, salt, iterations),
});
const acl = {
  principal: 'User:alice',
  host: '*',
  operation: 'Write',
  permission: 'Allow',
  resourceType: 'Topic',
  resourceName: 'orders',
  patternType: 'Literal',
} as const;

function controller(log = new MemoryMetadataLog()) {
  let n = 0;
  return new ClusterController({ log, logger, newId: () => `id-${n++}`, sessionTimeoutMs: 3000, autoLeaderRebalanceEnable: false });
}

/** A SCRAM login against a stored credential, as a broker does it. */
function login(credential: ScramCredential | undefined, password: string, user = 'alice'): boolean {
  const client = new ScramClient('sha256', user, password, 'c');
  const server = new ScramServer(
    'sha256',
    () => credential,
    's',
    () => ({ salt, storedKey: Buffer.alloc(32), serverKey: Buffer.alloc(32), iterations: 4096 }),
  );
  try {
    client.verifyServerFinal(server.handleFinal(client.finalMessage(server.handleFirst(client.firstMessage()))).serverFinal);
    return true;
  } catch {
    return false;
  }
}

describe('users (AlterUserScramCredentials)', () => {
  // Characters no base64 or hex has: the stored salt and keys cannot contain it by chance (a
  // two-letter password turned up in random base64 about one run in twenty).
  const PASSWORD = 'p@ss w0rd!';
  it('stores salt, StoredKey, ServerKey and iterations (never the password), replayed after a restart, published to brokers', () => {
    const log = new MemoryMetadataLog();
    const c = controller(log);
    expect(c.alterUserScramCredentials({ upsertions: [upsert('alice', PASSWORD), upsert('alice', PASSWORD, 'SCRAM-SHA-512')] })).toEqual({
      results: [{ user: 'alice' }],
    });
    const again = controller(log.reopen());
    const stored = again.state.scramCredential('alice', 'SCRAM-SHA-256');
    expect(stored?.iterations).toBe(4096);
    expect(JSON.stringify(log.replay())).not.toContain(PASSWORD);
    expect(login(stored, PASSWORD)).toBe(true);
    expect(login(stored, 'other')).toBe(false);
    const published = again.metadata().scramCredentials ?? [];
    expect(published.map((p) => `${p.name}/${p.mechanism}`).sort()).toEqual(['alice/SCRAM-SHA-256', 'alice/SCRAM-SHA-512']);
    expect(again.describeUserScramCredentials()).toEqual({
      users: [
        {
          user: 'alice',
          credentials: [
            { mechanism: 'SCRAM-SHA-256', iterations: 4096 },
            { mechanism: 'SCRAM-SHA-512', iterations: 4096 },
          ],
        },
      ],
    });
  });

  it("refuses a user's changes together, others go ahead; deletes", () => {
    const state = clusterOf();
    const bad = alterUserScramCredentials(state, {
      upsertions: [upsert('alice', 'pw'), upsert('bob', 'pw', 'SCRAM-SHA-256', 100), { ...upsert('carol', 'pw'), saltedPassword: Buffer.alloc(5) }],
      deletions: [{ name: 'alice', mechanism: 'SCRAM-SHA-512' }],
    });
    expect(bad.reply.results.map((r) => [r.user, r.error?.code])).toEqual([
      ['alice', 'RESOURCE_NOT_FOUND'],
      ['bob', 'INVALID_REQUEST'],
      ['carol', 'INVALID_REQUEST'],
    ]);
    expect(bad.records).toEqual([]);
    for (const r of alterUserScramCredentials(state, { upsertions: [upsert('alice', 'pw')] }).records) state.apply(r);
    const del = alterUserScramCredentials(state, { deletions: [{ name: 'alice', mechanism: 'SCRAM-SHA-256' }] });
    for (const r of del.records) state.apply(r);
    expect(state.scramCredential('alice', 'SCRAM-SHA-256')).toBeUndefined();
    expect(state.toMetadata().scramCredentials).toBeUndefined();
  });

  it('the bootstrap user is made once', () => {
    const log = new MemoryMetadataLog();
    expect(controller(log).bootstrapUser('admin', 'secret')).toBe(true);
    const again = controller(log.reopen());
    expect(again.bootstrapUser('admin', 'other')).toBe(false);
    expect(login(again.state.scramCredential('admin', 'SCRAM-SHA-256'), 'secret', 'admin')).toBe(true);
    expect(login(again.state.scramCredential('admin', 'SCRAM-SHA-256'), 'other', 'admin')).toBe(false);
  });
});

describe('ACLs (CreateAcls, DescribeAcls, DeleteAcls)', () => {
  it('creates (once per binding), describes by filter, deletes by filter, across a restart', () => {
    const log = new MemoryMetadataLog();
    const c = controller(log);
    const created = c.createAcls({ creations: [acl, acl, { ...acl, operation: 'Read' }, { ...acl, principal: 'alice' }] });
    expect(created.results.map((r) => r.error?.code)).toEqual([undefined, undefined, undefined, 'INVALID_REQUEST']);
    const again = controller(log.reopen());
    expect(again.describeAcls({ operation: 'Write' }).acls).toEqual([acl]);
    expect(again.metadata().acls).toHaveLength(2);
    expect(again.deleteAcls({ filters: [{ principal: 'User:alice' }, { operation: 'Read' }] }).results.map((r) => r.deleted.length)).toEqual([2, 0]);
    expect(again.describeAcls().acls).toEqual([]);
    expect(again.state.aclsVersion).toBe(4);
  });

  it('decisions do not touch the state', () => {
    const state = clusterOf();
    const before = state.version;
    createAcls(state, { creations: [acl] }, () => 'x');
    deleteAcls(state, { filters: [{}] });
    expect(state.version).toBe(before);
  });
});
