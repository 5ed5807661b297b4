// What the listener advertises (ApiVersions) and serves: milestone 1 of issue 19, and SASL on a
// secure cluster's listeners (issue 20). `served` is
// narrower than `advertised` for Produce only: librdkafka turns compression off unless Produce
// v0 is advertised, and v0-2 (message formats v0/v1) are answered UNSUPPORTED_VERSION.

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
  { apiKey: 0, name: 'Produce', minVersion: 0, maxVersion: 8, servedMin: 3 },
  { apiKey: 1, name: 'Fetch', minVersion: 4, maxVersion: 11 },
  { apiKey: 2, name: 'ListOffsets', minVersion: 1, maxVersion: 5 },
  { apiKey: 3, name: 'Metadata', minVersion: 0, maxVersion: 8 },
  { apiKey: 8, name: 'OffsetCommit', minVersion: 2, maxVersion: 7 },
  { apiKey: 9, name: 'OffsetFetch', minVersion: 1, maxVersion: 5 },
  { apiKey: 10, name: 'FindCoordinator', minVersion: 0, maxVersion: 2 },
  { apiKey: 11, name: 'JoinGroup', minVersion: 0, maxVersion: 5 },
  { apiKey: 12, name: 'Heartbeat', minVersion: 0, maxVersion: 3 },
  { apiKey: 13, name: 'LeaveGroup', minVersion: 0, maxVersion: 3 },
  { apiKey: 14, name: 'SyncGroup', minVersion: 0, maxVersion: 3 },
  { apiKey: 18, name: 'ApiVersions', minVersion: 0, maxVersion: 3 },
  { apiKey: 19, name: 'CreateTopics', minVersion: 0, maxVersion: 4 },
  { apiKey: 20, name: 'DeleteTopics', minVersion: 0, maxVersion: 3 },
  { apiKey: 22, name: 'InitProducerId', minVersion: 0, maxVersion: 1 },
  { apiKey: 32, name: 'DescribeConfigs', minVersion: 0, maxVersion: 2 },
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
