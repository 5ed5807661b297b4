// Decisions on users and ACLs (issue 20), pure like the others: (state, request) → records to
// append plus the answer. Kafka's AlterUserScramCredentials, DescribeUserScramCredentials,
// CreateAcls, DescribeAcls, DeleteAcls. The controller never sees a password: clients send the
// salt and the salted password, and it stores StoredKey and ServerKey (Kafka's format).

import {
  SCRAM_ITERATIONS_MAX,
  SCRAM_ITERATIONS_MIN,
  credentialFromSaltedPassword,
  filterMatches,
  isScramMechanism,
  newCredential,
  scramHash,
  validateBinding,
} from '@tributary/auth';
import {
  TributaryError,
  type AclBinding,
  type AclBindingFilter,
  type AlterUserScramCredentialsRequest,
  type AlterUserScramCredentialsResponse,
  type CreateAclsRequest,
  type CreateAclsResponse,
  type DeleteAclsRequest,
  type DeleteAclsResponse,
  type DescribeUserScramCredentialsResponse,
  type ScramMechanismName,
  type WireError,
} from '@tributary/protocol';
import type { ClusterState } from './cluster-state.ts';
import type { MetadataRecord } from './records.ts';

/** Kafka's limits on a user name: not empty; 255 characters here. */
const USER_NAME_MAX = 255;

function wire(err: unknown): WireError {
  return err instanceof TributaryError ? err.toWire() : { code: 'UNKNOWN_SERVER_ERROR', message: String(err) };
}

function checkUser(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > USER_NAME_MAX)
    throw new TributaryError('INVALID_REQUEST', `user name must be 1-${USER_NAME_MAX} characters`);
}

function checkMechanism(mechanism: unknown): asserts mechanism is ScramMechanismName {
  if (!isScramMechanism(mechanism)) throw new TributaryError('UNSUPPORTED_SASL_MECHANISM', `unknown SCRAM mechanism ${JSON.stringify(mechanism)}`);
}

/**
 * Upserts and deletes credentials. As Kafka: results per user, a user's changes all or nothing;
 * a user named twice for one mechanism, an unknown mechanism, iterations outside 4096..16384, a
 * salted password of the wrong length, or deleting a credential that does not exist refuses that
 * user's changes.
 */
export function alterUserScramCredentials(
  state: ClusterState,
  request: AlterUserScramCredentialsRequest,
): { records: MetadataRecord[]; reply: AlterUserScramCredentialsResponse } {
  const users: string[] = [];
  const byUser = new Map<
    string,
    { upsertions: NonNullable<AlterUserScramCredentialsRequest['upsertions']>; deletions: NonNullable<AlterUserScramCredentialsRequest['deletions']> }
  >();
  const entry = (name: string) => {
    let e = byUser.get(name);
    if (e === undefined) {
      e = { upsertions: [], deletions: [] };
      byUser.set(name, e);
      users.push(name);
    }
    return e;
  };
  for (const u of request.upsertions ?? []) entry(u.name).upsertions.push(u);
  for (const d of request.deletions ?? []) entry(d.name).deletions.push(d);
  const records: MetadataRecord[] = [];
  const results: AlterUserScramCredentialsResponse['results'] = [];
  for (const user of users) {
    const { upsertions, deletions } = byUser.get(user)!;
    try {
      checkUser(user);
      const seen = new Set<string>();
      const mine: MetadataRecord[] = [];
      for (const d of deletions) {
        checkMechanism(d.mechanism);
        if (seen.has(d.mechanism)) throw new TributaryError('INVALID_REQUEST', `user '${user}' names ${d.mechanism} twice`);
        seen.add(d.mechanism);
        if (state.scramCredential(user, d.mechanism) === undefined)
          throw new TributaryError('RESOURCE_NOT_FOUND', `user '${user}' has no ${d.mechanism} credential`);
        mine.push({ type: 'RemoveUserScramCredential', name: user, mechanism: d.mechanism });
      }
      for (const u of upsertions) {
        checkMechanism(u.mechanism);
        if (seen.has(u.mechanism)) throw new TributaryError('INVALID_REQUEST', `user '${user}' names ${u.mechanism} twice`);
        seen.add(u.mechanism);
        if (!Number.isSafeInteger(u.iterations) || u.iterations < SCRAM_ITERATIONS_MIN || u.iterations > SCRAM_ITERATIONS_MAX)
          throw new TributaryError('INVALID_REQUEST', `iterations must be ${SCRAM_ITERATIONS_MIN}-${SCRAM_ITERATIONS_MAX}, got ${u.iterations}`);
        const hash = scramHash(u.mechanism);
        const length = hash === 'sha256' ? 32 : 64;
        if (u.salt.length < 8 || u.salt.length > 256) throw new TributaryError('INVALID_REQUEST', 'salt must be 8-256 bytes');
        if (u.saltedPassword.length !== length) throw new TributaryError('INVALID_REQUEST', `a ${u.mechanism} salted password is ${length} bytes`);
        const credential = credentialFromSaltedPassword(hash, u.saltedPassword, u.salt, u.iterations);
        mine.push({ type: 'UserScramCredential', name: user, mechanism: u.mechanism, ...credential });
      }
      records.push(...mine);
      results.push({ user });
    } catch (err) {
      results.push({ user, error: wire(err) });
    }
  }
  return { records, reply: { results } };
}

export function describeUserScramCredentials(state: ClusterState, users: readonly string[] | undefined): DescribeUserScramCredentialsResponse {
  const names = users ?? [...state.scramCredentials.keys()].sort();
  return {
    users: names.map((user) => {
      const byMechanism = state.scramCredentials.get(user);
      if (byMechanism === undefined) return { user, credentials: [], error: { code: 'RESOURCE_NOT_FOUND', message: `user '${user}' has no SCRAM credential` } };
      return { user, credentials: [...byMechanism.values()].map((c) => ({ mechanism: c.mechanism, iterations: c.iterations })) };
    }),
  };
}

/** Credentials for a user the controller is told to create at start (`--bootstrap-user`), if it has none. */
export function bootstrapUserRecords(state: ClusterState, user: string, password: string): MetadataRecord[] {
  checkUser(user);
  if (state.scramCredentials.has(user)) return [];
  return (['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const).map((mechanism) => ({
    type: 'UserScramCredential',
    name: user,
    mechanism,
    ...newCredential(mechanism, password),
  }));
}

/** Each binding is checked and created on its own (Kafka's CreateAcls); one that exists already is kept once. */
export function createAcls(state: ClusterState, request: CreateAclsRequest, newId: () => string): { records: MetadataRecord[]; reply: CreateAclsResponse } {
  const records: MetadataRecord[] = [];
  const existing = [...state.acls.values()];
  const results: CreateAclsResponse['results'] = request.creations.map((raw) => {
    try {
      const binding = validateBinding(raw);
      if (!existing.some((b) => filterMatches(binding, b))) {
        existing.push(binding);
        records.push({ type: 'AccessControlEntry', id: newId(), ...binding });
      }
      return {};
    } catch (err) {
      return { error: wire(err) };
    }
  });
  return { records, reply: { results } };
}

export function describeAcls(state: ClusterState, filter: AclBindingFilter = {}): AclBinding[] {
  return [...state.acls.values()].filter((b) => filterMatches(filter, b));
}

/** Each filter removes every binding it matches (a binding matched twice is removed once). */
export function deleteAcls(state: ClusterState, request: DeleteAclsRequest): { records: MetadataRecord[]; reply: DeleteAclsResponse } {
  const removed = new Set<string>();
  const records: MetadataRecord[] = [];
  const results = request.filters.map((filter) => {
    const deleted: AclBinding[] = [];
    for (const [id, binding] of state.acls) {
      if (removed.has(id) || !filterMatches(filter, binding)) continue;
      removed.add(id);
      deleted.push(binding);
      records.push({ type: 'RemoveAccessControlEntry', id });
    }
    return { deleted };
  });
  return { records, reply: { results } };
}
