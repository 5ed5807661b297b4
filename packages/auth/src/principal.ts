// Who a request comes from, once its listener has authenticated it.

/** `via`: how the caller proved it (Kafka's principal is `User:<name>` for each of them). */
export interface Principal {
  /** Kafka's principal string, `User:alice`. */
  name: string;
  /**
   * 'scram': a session from a SCRAM exchange; 'plain': a user name and password checked against
   * the SCRAM credentials (HTTP Basic, SASL/PLAIN); 'certificate': a client certificate signed by
   * the cluster's CA (a cluster process: broker, controller, the launcher); 'anonymous': a
   * listener without security (plaintext demo), where nothing is checked.
   */
  via: 'scram' | 'plain' | 'certificate' | 'anonymous';
}

export const ANONYMOUS: Principal = Object.freeze({ name: 'User:ANONYMOUS', via: 'anonymous' });

export function userPrincipal(user: string, via: Principal['via']): Principal {
  return { name: `User:${user}`, via };
}

/** A cluster process: authenticated by the cluster CA's certificate. */
export function isClusterProcess(principal: Principal): boolean {
  return principal.via === 'certificate';
}

/** Kafka's `super.users` format: `User:a;User:b` (semicolons; commas accepted too). */
export function parseSuperUsers(text: string | undefined): Set<string> {
  const users = new Set<string>();
  for (const part of (text ?? '').split(/[;,]/)) {
    const p = part.trim();
    if (p === '') continue;
    if (!/^User:.+$/.test(p)) throw new RangeError(`super user '${p}' must be User:<name>`);
    users.add(p);
  }
  return users;
}
