// Import the `/server` or `/client` subpath: the client never pulls in fastify.
export { RpcClient, RpcClientPool, parseEndpoint } from './client.ts';
export type { Authorization, CallAuthenticator, CallOptions, RpcClientOptions, TlsClientOptions } from './client.ts';
