// The broker's consumer-group routes (api.ts § consumer groups; the contract in words:
// packages/client/README.md): field checks (INVALID_REQUEST naming the field, nothing reaches the
// coordinator as garbage), then the CoordinatorHost. Served on both client listeners.

import {
  GROUP_STATES,
  TributaryError,
  arrayField,
  asBody,
  bytesField,
  intField,
  optionalStringField,
  stringField,
  type GroupProtocol,
  type GroupStateName,
  type WireError,
} from '@tributary/protocol';
import { routeLimits, type FastifyInstance, type FastifyRequest } from '@tributary/transport/server';
import type { ProcessSecurity } from '@tributary/auth/server';
import type { BrokerRouteLimits } from './broker-service.ts';
import { REQUEST_LIMITS } from './broker-service.ts';
import type { CommitInput, JoinRequestInput } from '@tributary/coordinator';
import type { CoordinatorHost } from './coordinator-host.ts';
import type { BrokerMetrics } from './metrics.ts';

/** Bounds on group request fields (STYLE.md: every list has a named maximum). */
export const GROUP_REQUEST_LIMITS = Object.freeze({
  /** Checked loosely here; the coordinator answers INVALID_GROUP_ID past 255. */
  groupIdMax: 1024,
  /** Generated ids are `clientId-uuid` (at most 255 + 37); room for other clients' ids. */
  memberIdMax: 1024,
  clientIdMax: 255,
  protocolTypeMax: 255,
  protocolNameMax: 255,
  protocolsMax: 64,
  /** Members of one leave request, assignments of one sync (group.max.size is below it). */
  membersMax: 100_000,
  /** Groups per describe or delete request. */
  groupIdsMax: 10_000,
  /** Kafka's metadata is an int16-length string: longer is a bad request; over offset.metadata.max.bytes a per-partition error. */
  offsetMetadataMax: 32_767,
  int32Max: 2_147_483_647,
});

/** Kafka's rule for group.instance.id: like a topic name, 1-249 characters of [a-zA-Z0-9._-]. */
const GROUP_INSTANCE_ID = /^[a-zA-Z0-9._-]{1,249}$/;

function invalid(message: string): TributaryError {
  return new TributaryError('INVALID_REQUEST', message);
}

function groupIdField(body: Record<string, unknown>, name = 'groupId'): string {
  return stringField(body, name, GROUP_REQUEST_LIMITS.groupIdMax);
}

function optionalInstanceId(body: Record<string, unknown>): string | undefined {
  const id = optionalStringField(body, 'groupInstanceId', 249);
  if (id !== undefined && !GROUP_INSTANCE_ID.test(id))
    throw invalid(`field 'groupInstanceId' must be 1-249 characters of [a-zA-Z0-9._-], got ${JSON.stringify(id)}`);
  return id;
}

function entries(body: Record<string, unknown>, name: string, max: number): Record<string, unknown>[] {
  return arrayField(body, name, max).map((e, i) => asBody(e, `${name}[${i}]`));
}

function topicPartition(e: Record<string, unknown>): { topic: string; partition: number } {
  return { topic: stringField(e, 'topic', REQUEST_LIMITS.topicNameMax), partition: intField(e, 'partition', { min: 0, max: REQUEST_LIMITS.partitionIdMax }) };
}

export function parseJoinGroup(raw: unknown, clientHost: string): JoinRequestInput {
  const body = asBody(raw);
  const protocols: GroupProtocol[] = entries(body, 'protocols', GROUP_REQUEST_LIMITS.protocolsMax).map((p) => ({
    name: stringField(p, 'name', GROUP_REQUEST_LIMITS.protocolNameMax),
    metadata: bytesField(p, 'metadata'),
  }));
  const names = new Set(protocols.map((p) => p.name));
  if (names.size !== protocols.length) throw invalid(`field 'protocols' names a protocol twice`);
  return {
    groupId: groupIdField(body),
    memberId: stringField(body, 'memberId', GROUP_REQUEST_LIMITS.memberIdMax),
    groupInstanceId: optionalInstanceId(body),
    clientId: stringField(body, 'clientId', GROUP_REQUEST_LIMITS.clientIdMax),
    clientHost,
    sessionTimeoutMs: intField(body, 'sessionTimeoutMs', { min: 0, max: GROUP_REQUEST_LIMITS.int32Max }),
    rebalanceTimeoutMs: intField(body, 'rebalanceTimeoutMs', { min: 1, max: GROUP_REQUEST_LIMITS.int32Max }),
    protocolType: stringField(body, 'protocolType', GROUP_REQUEST_LIMITS.protocolTypeMax),
    protocols,
  };
}

function memberFields(body: Record<string, unknown>): { groupId: string; generationId: number; memberId: string; groupInstanceId: string | undefined } {
  return {
    groupId: groupIdField(body),
    generationId: intField(body, 'generationId', { min: -1, max: GROUP_REQUEST_LIMITS.int32Max }),
    memberId: stringField(body, 'memberId', GROUP_REQUEST_LIMITS.memberIdMax),
    groupInstanceId: optionalInstanceId(body),
  };
}

export function parseSyncGroup(raw: unknown) {
  const body = asBody(raw);
  const assignments = new Map<string, Buffer>();
  const list = body.assignments === undefined || body.assignments === null ? [] : entries(body, 'assignments', GROUP_REQUEST_LIMITS.membersMax);
  for (const a of list) {
    const memberId = stringField(a, 'memberId', GROUP_REQUEST_LIMITS.memberIdMax);
    if (assignments.has(memberId)) throw invalid(`field 'assignments' names member ${memberId} twice`);
    assignments.set(memberId, bytesField(a, 'assignment'));
  }
  return { ...memberFields(body), assignments };
}

export function parseHeartbeat(raw: unknown) {
  return memberFields(asBody(raw));
}

export function parseLeaveGroup(raw: unknown) {
  const body = asBody(raw);
  const members = entries(body, 'members', GROUP_REQUEST_LIMITS.membersMax).map((m) => ({
    memberId: stringField(m, 'memberId', GROUP_REQUEST_LIMITS.memberIdMax),
    groupInstanceId: optionalInstanceId(m),
  }));
  if (members.length === 0) throw invalid(`field 'members' must name at least one member`);
  return { groupId: groupIdField(body), members };
}

function commitEntries(body: Record<string, unknown>): CommitInput['offsets'] {
  const seen = new Set<string>();
  return entries(body, 'offsets', REQUEST_LIMITS.partitionsMax).map((e) => {
    const tp = topicPartition(e);
    const key = `${tp.topic}\u0000${tp.partition}`;
    if (seen.has(key)) throw invalid(`field 'offsets' names ${tp.topic}-${tp.partition} twice`);
    seen.add(key);
    const epoch = e.leaderEpoch;
    return {
      ...tp,
      offset: intField(e, 'offset', { min: 0 }),
      leaderEpoch: epoch === undefined || epoch === null ? undefined : intField(e, 'leaderEpoch', { min: -1, max: GROUP_REQUEST_LIMITS.int32Max }),
      metadata: optionalStringField(e, 'metadata', GROUP_REQUEST_LIMITS.offsetMetadataMax) ?? '',
    };
  });
}

export function parseOffsetCommit(raw: unknown): CommitInput {
  const body = asBody(raw);
  return { ...memberFields(body), offsets: commitEntries(body) };
}

export function parseResetOffsets(raw: unknown): { groupId: string; offsets: CommitInput['offsets'] } {
  const body = asBody(raw);
  return { groupId: groupIdField(body), offsets: commitEntries(body) };
}

export function parseOffsetFetch(raw: unknown): { groupId: string; partitions: { topic: string; partition: number }[] | undefined } {
  const body = asBody(raw);
  const partitions =
    body.partitions === undefined || body.partitions === null ? undefined : entries(body, 'partitions', REQUEST_LIMITS.partitionsMax).map(topicPartition);
  return { groupId: groupIdField(body), partitions };
}

function groupIds(body: Record<string, unknown>): string[] {
  return arrayField(body, 'groupIds', GROUP_REQUEST_LIMITS.groupIdsMax).map((g, i) =>
    stringField({ [`groupIds[${i}]`]: g }, `groupIds[${i}]`, GROUP_REQUEST_LIMITS.groupIdMax),
  );
}

export function parseListGroups(raw: unknown): GroupStateName[] | undefined {
  const body = asBody(raw ?? {});
  if (body.states === undefined || body.states === null) return undefined;
  return arrayField(body, 'states', GROUP_STATES.length).map((s, i) => {
    if (!(GROUP_STATES as readonly unknown[]).includes(s))
      throw invalid(`field 'states[${i}]' must be one of ${GROUP_STATES.join(', ')}, got ${JSON.stringify(s)}`);
    return s as GroupStateName;
  });
}

export interface GroupServiceDeps {
  listener: 'internal' | 'external';
  host: CoordinatorHost;
  metrics: BrokerMetrics;
  routeLimits: BrokerRouteLimits;
  /** Authentication and ACLs (issue 20); absent or disabled: nothing is checked. */
  security?: ProcessSecurity;
}

type GroupApi =
  | 'find_coordinator'
  | 'join_group'
  | 'sync_group'
  | 'heartbeat'
  | 'leave_group'
  | 'offset_commit'
  | 'offset_fetch'
  | 'list_groups'
  | 'describe_groups'
  | 'delete_groups'
  | 'reset_offsets';

export function registerGroupRoutes(app: FastifyInstance, deps: GroupServiceDeps): void {
  const { host, metrics } = deps;
  // Bodies with up to partitionsMax entries (commits, fetches, assignments): the fetch limits.
  const large = routeLimits(deps.routeLimits.fetch);
  const small = routeLimits(deps.routeLimits.admin);

  async function counted<T>(api: GroupApi, fn: () => Promise<T> | T): Promise<T> {
    try {
      const result = await fn();
      metrics.requests.inc({ api, error: 'none' });
      return result;
    } catch (err) {
      metrics.requests.inc({ api, error: err instanceof TributaryError ? err.code : 'UNKNOWN_SERVER_ERROR' });
      throw err;
    }
  }

  // Kafka's ACLs per group request: FindCoordinator Describe, Join/Sync/Heartbeat/Leave and
  // OffsetCommit Read on the group (commits also Read on each topic), OffsetFetch Describe on the
  // group (offsets of topics the caller may not Describe are left out), ListGroups the groups
  // it may Describe (all with Describe on the cluster), DescribeGroups Describe and DeleteGroups
  // Delete per group.
  const security = deps.security?.enabled ? deps.security : undefined;
  const group = (request: FastifyRequest, operation: 'Read' | 'Describe', groupId: string) => security?.require(request, operation, 'Group', groupId);
  const refusedGroup = (request: FastifyRequest, operation: string, groupId: string) => ({
    code: 'GROUP_AUTHORIZATION_FAILED' as const,
    message: `${security?.principal(request).name} is not authorized to ${operation} group '${groupId}'`,
  });
  /** A commit whose partitions the caller may Read: the others answered TOPIC_AUTHORIZATION_FAILED, nothing written for them. */
  const commitPermitted = async (
    request: FastifyRequest,
    input: { offsets: CommitInput['offsets'] },
    commit: (offsets: CommitInput['offsets']) => Promise<{ partitions: { topic: string; partition: number; error?: WireError }[] }>,
  ) => {
    if (security === undefined) return commit(input.offsets);
    const readable = security.checker(request, 'Read', 'Topic');
    const kept = input.offsets.filter((o) => readable(o.topic));
    if (kept.length === input.offsets.length) return commit(input.offsets);
    const served = kept.length === 0 ? [] : (await commit(kept)).partitions;
    let next = 0;
    const name = security.principal(request).name;
    return {
      partitions: input.offsets.map((o) =>
        readable(o.topic)
          ? served[next++]!
          : {
              topic: o.topic,
              partition: o.partition,
              error: { code: 'TOPIC_AUTHORIZATION_FAILED' as const, message: `${name} is not authorized to Read topic '${o.topic}'` },
            },
      ),
    };
  };

  app.post('/find-coordinator', small, (request) =>
    counted('find_coordinator', () => {
      const key = stringField(asBody(request.body), 'key', GROUP_REQUEST_LIMITS.groupIdMax);
      group(request, 'Describe', key);
      return host.findCoordinator(key, deps.listener);
    }),
  );
  // Kafka's clientHost is the client's address as InetAddress prints it.
  app.post('/group/join', large, (request) =>
    counted('join_group', () => {
      const input = parseJoinGroup(request.body, `/${request.ip}`);
      group(request, 'Read', input.groupId);
      return host.join(input);
    }),
  );
  app.post('/group/sync', large, (request) =>
    counted('sync_group', () => {
      const input = parseSyncGroup(request.body);
      group(request, 'Read', input.groupId);
      return host.sync(input);
    }),
  );
  app.post('/group/heartbeat', small, (request) =>
    counted('heartbeat', () => {
      const input = parseHeartbeat(request.body);
      group(request, 'Read', input.groupId);
      return host.heartbeat(input);
    }),
  );
  app.post('/group/leave', large, (request) =>
    counted('leave_group', () => {
      const input = parseLeaveGroup(request.body);
      group(request, 'Read', input.groupId);
      return host.leave(input);
    }),
  );
  app.post('/offsets/commit', large, (request) =>
    counted('offset_commit', async () => {
      const input = parseOffsetCommit(request.body);
      group(request, 'Read', input.groupId);
      const response = await commitPermitted(request, input, (offsets) => host.commitOffsets({ ...input, offsets }));
      for (const p of response.partitions) if (p.error !== undefined) metrics.partitionErrors.inc({ api: 'offset_commit', error: p.error.code });
      return response;
    }),
  );
  app.post('/offsets/fetch', large, (request) =>
    counted('offset_fetch', () => {
      const input = parseOffsetFetch(request.body);
      group(request, 'Describe', input.groupId);
      const response = host.fetchOffsets(input.groupId, input.partitions);
      if (security === undefined) return response;
      const describable = security.checker(request, 'Describe', 'Topic');
      return { ...response, offsets: response.offsets.filter((o) => describable(o.topic)) };
    }),
  );
  app.post('/groups/list', small, (request) =>
    counted('list_groups', () => {
      const response = host.listGroups(parseListGroups(request.body));
      if (security === undefined || security.allows(request, 'Describe', 'Cluster', undefined, false)) return response;
      return { ...response, groups: response.groups.filter((g) => security.allows(request, 'Describe', 'Group', g.groupId, false)) };
    }),
  );
  app.post('/groups/describe', small, (request) =>
    counted('describe_groups', () => {
      const ids = groupIds(asBody(request.body));
      if (security === undefined) return host.describeGroups(ids);
      const allowed = ids.filter((g) => security.allows(request, 'Describe', 'Group', g));
      const described = allowed.length === 0 ? [] : host.describeGroups(allowed).groups;
      const byId = new Map(described.map((g) => [g.groupId, g]));
      return {
        groups: ids.map(
          (g) =>
            byId.get(g) ?? { groupId: g, error: refusedGroup(request, 'Describe', g), state: 'Dead' as const, protocolType: '', protocol: '', members: [] },
        ),
      };
    }),
  );
  app.post('/groups/delete', small, (request) =>
    counted('delete_groups', async () => {
      const ids = groupIds(asBody(request.body));
      if (security === undefined) return host.deleteGroups(ids);
      const allowed = ids.filter((g) => security.allows(request, 'Delete', 'Group', g));
      const deleted = allowed.length === 0 ? [] : (await host.deleteGroups(allowed)).groups;
      const byId = new Map(deleted.map((g) => [g.groupId, g]));
      return { groups: ids.map((g) => byId.get(g) ?? { groupId: g, error: refusedGroup(request, 'Delete', g) }) };
    }),
  );
  app.post('/groups/reset-offsets', large, (request) =>
    counted('reset_offsets', () => {
      const input = parseResetOffsets(request.body);
      group(request, 'Read', input.groupId);
      return commitPermitted(request, input, (offsets) => host.resetOffsets({ groupId: input.groupId, offsets }));
    }),
  );
}
