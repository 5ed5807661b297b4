// What the listener advertises (ApiVersions) and serves: issue 19, milestones 1 and 2, and SASL
// on a secure cluster's listeners (issue 20). `served` is narrower than `advertised` for Produce
// only: librdkafka turns compression off unless Produce
// v0 is advertised, and v0-2 (message formats v0/v1) are answered UNSUPPORTED_VERSION.
//
// Where Kafka goes further, the next version needs semantics Tributary lacks:
// - Produce 10, Fetch 16 (KIP-951): node endpoints of the new leader on NOT_LEADER answers.
// - Fetch 14-15 (KIP-405 / KIP-903): tiered-storage offsets and the replica state of a follower
//   fetching over this protocol (followers replicate over HTTP here).
// - ListOffsets 7 (KIP-734): MAX_TIMESTAMP (-3), the offset of the largest timestamp, is not
//   looked up; ListOffsets 8+ is tiered storage.
// - InitProducerId 5+, OffsetCommit 9+, OffsetFetch 9+: transactions (KIP-890) and the
//   KIP-848 consumer protocol's member epochs.
// - JoinGroup 8-9: the join reason (KIP-800) and KIP-814's skipAssignment for a static leader,
//   which the coordinator does not keep; not transcribed yet.
// - FindCoordinator 5+, CreateTopics/DeleteTopics past 7/6, Metadata 13: later KIPs unrelated
//   to these semantics, not transcribed.

export interface ApiVersionRange {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** The versions served; absent = the advertised range. */
  servedMin?: number;
  /** Advertised and served on a SASL listener (a secure cluster's) only. */
  saslOnly?: true;
}

export const API_VERSIONS: readonly ApiVersionRange[] = Object.freeze([
  { apiKey: 0, name: 'Produce', minVersion: 0, maxVersion: 9, servedMin: 3 },
  { apiKey: 1, name: 'Fetch', minVersion: 4, maxVersion: 13 },
  { apiKey: 2, name: 'ListOffsets', minVersion: 1, maxVersion: 6 },
  { apiKey: 3, name: 'Metadata', minVersion: 0, maxVersion: 12 },
  { apiKey: 8, name: 'OffsetCommit', minVersion: 2, maxVersion: 8 },
  { apiKey: 9, name: 'OffsetFetch', minVersion: 1, maxVersion: 8 },
  { apiKey: 10, name: 'FindCoordinator', minVersion: 0, maxVersion: 4 },
  { apiKey: 11, name: 'JoinGroup', minVersion: 0, maxVersion: 7 },
  { apiKey: 12, name: 'Heartbeat', minVersion: 0, maxVersion: 4 },
  { apiKey: 13, name: 'LeaveGroup', minVersion: 0, maxVersion: 5 },
  { apiKey: 14, name: 'SyncGroup', minVersion: 0, maxVersion: 5 },
  { apiKey: 18, name: 'ApiVersions', minVersion: 0, maxVersion: 3 },
  { apiKey: 19, name: 'CreateTopics', minVersion: 0, maxVersion: 7 },
  { apiKey: 20, name: 'DeleteTopics', minVersion: 0, maxVersion: 6 },
  { apiKey: 22, name: 'InitProducerId', minVersion: 0, maxVersion: 4 },
  { apiKey: 23, name: 'OffsetForLeaderEpoch', minVersion: 0, maxVersion: 4 },
  { apiKey: 32, name: 'DescribeConfigs', minVersion: 0, maxVersion: 4 },
  // After SaslHandshake v0 the mechanism's tokens travel as bare size-prefixed frames; after v1 in
  // SaslAuthenticate requests. librdkafka wants v0 advertised before it does SASL at all.
  { apiKey: 17, name: 'SaslHandshake', minVersion: 0, maxVersion: 1, saslOnly: true },
  { apiKey: 36, name: 'SaslAuthenticate', minVersion: 0, maxVersion: 2, saslOnly: true },
]);

/** What a listener advertises: a plaintext one leaves out the SASL APIs. */
export function advertisedApis(sasl: boolean): ApiVersionRange[] {
  return API_VERSIONS.filter((a) => sasl || a.saslOnly !== true);
}

const BY_KEY = new Map(API_VERSIONS.map((a) => [a.apiKey, a]));

export function apiVersionRange(apiKey: number): ApiVersionRange | undefined {
  return BY_KEY.get(apiKey);
}

/** Whether `version` of `apiKey` is advertised (on a SASL listener when `sasl`). */
export function isAdvertised(apiKey: number, version: number, sasl = false): boolean {
  const r = BY_KEY.get(apiKey);
  return r !== undefined && (sasl || r.saslOnly !== true) && version >= r.minVersion && version <= r.maxVersion;
}
