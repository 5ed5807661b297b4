// @tributary/auth: the rules of a secure cluster, sans-I/O (DESIGN.md § Security).
export * from './acl.ts';
