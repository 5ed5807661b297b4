// @tributary/auth: the rules of a secure cluster, sans-I/O (DESIGN.md § Security). Certificate
// helpers are under `@tributary/auth/certs` (they pull in an X.509 library the client never needs).
export * from './acl.ts';
export * from './authorizer.ts';
export * from './cluster-identity.ts';
export * from './principal.ts';
export * from './scram.ts';
export * from './sessions.ts';
