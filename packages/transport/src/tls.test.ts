import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TributaryError } from '@tributary/protocol';
import { RpcClient, type CallAuthenticator } from './client.ts';
import { createMsgpackServer, peerCertificate, principalOf, type MsgpackServer } from './server.ts';

const pem = (name: string) => readFileSync(new URL(`./internal/test-certs/${name}.pem`, import.meta.url));
const CA = pem('ca');
const SERVER = { key: pem('server-key'), cert: pem('server'), ca: CA };

describe('TLS listeners and the authentication hook', () => {
  let app: MsgpackServer;
  let port = 0;
  let handled = 0;
  const clients: RpcClient[] = [];
  const client = (options: ConstructorParameters<typeof RpcClient>[1]) => {
    const c = new RpcClient({ host: '127.0.0.1', port }, { timeoutMs: 3000, ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    app = createMsgpackServer({
      tls: SERVER,
      publicPaths: ['/login'],
      authenticate: (request) => {
        const cert = peerCertificate(request);
        if (cert?.authorized) return `cert:${cert.commonName}`;
        if (request.headers.authorization === 'Bearer good') return 'token:alice';
        throw new TributaryError('SASL_AUTHENTICATION_FAILED', `refused (${cert?.error ?? 'no certificate'})`);
      },
    });
    app.post('/whoami', async (request) => {
      handled++;
      return { principal: principalOf<string>(request) };
    });
    app.post('/login', async () => ({ token: 'good' }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await app.close();
  });

  it('a client certificate signed by the CA authenticates (mutual TLS)', async () => {
    const c = client({ tls: { ca: CA, cert: pem('client'), key: pem('client-key') } });
    expect(await c.call('/whoami', {})).toEqual({ principal: 'cert:broker-0' });
  });

  it('a certificate from another CA is refused before the handler runs', async () => {
    const before = handled;
    const c = client({ tls: { ca: CA, cert: pem('stranger'), key: pem('stranger-key') } });
    await expect(c.call('/whoami', { big: Buffer.alloc(10_000) })).rejects.toMatchObject({
      code: 'SASL_AUTHENTICATION_FAILED',
      message: expect.stringMatching(/refused/),
    });
    expect(handled).toBe(before);
  });

  it('no certificate and no credentials: refused; public paths are open', async () => {
    const c = client({ tls: { ca: CA } });
    await expect(c.call('/whoami', {})).rejects.toMatchObject({ code: 'SASL_AUTHENTICATION_FAILED' });
    expect(await c.call('/login', {})).toEqual({ token: 'good' });
  });

  it('an authenticator adds the header, and is asked again after a refusal', async () => {
    const values = ['Bearer stale', 'Bearer good'];
    let asked = 0;
    const authenticator: CallAuthenticator = {
      authorize: async (peer) => {
        await peer.call('/login', {}, { noAuth: true });
        return { value: values[asked++]! };
      },
    };
    const c = client({ tls: { ca: CA }, authenticator });
    expect(await c.call('/whoami', {})).toEqual({ principal: 'token:alice' });
    expect(asked).toBe(2);
    expect(await c.call('/whoami', {})).toEqual({ principal: 'token:alice' });
    expect(asked).toBe(2);
  });

  it("a client that names the process it calls accepts only that process's certificate (this server is the controller)", async () => {
    const right = client({ tls: { ca: CA, cert: pem('client'), key: pem('client-key'), serverName: 'controller' } });
    expect(await right.call('/whoami', {})).toEqual({ principal: 'cert:broker-0' });
    const wrong = client({ tls: { ca: CA, cert: pem('client'), key: pem('client-key'), serverName: 'broker-3' } });
    await expect(wrong.call('/whoami', {})).rejects.toThrow(/'controller''s, not 'broker-3'/);
  });

  it('a refused authentication is a 401 that says how to authenticate (WWW-Authenticate: Basic): a browser asks for a user', async () => {
    const agent = new Agent({ connect: { ca: CA } });
    try {
      const res = await request(`https://127.0.0.1:${port}/whoami`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/msgpack' },
        body: Buffer.from([0x80]),
      });
      await res.body.arrayBuffer();
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Basic realm="tributary", charset="UTF-8"');
    } finally {
      await agent.close();
    }
  });

  it('peers that reset the connection (before a byte, mid-handshake, after a plaintext request) do not take the server down', async () => {
    const reset = (bytes?: Buffer) =>
      new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          if (bytes !== undefined) socket.write(bytes);
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, 5);
        });
        socket.on('error', () => resolve());
      });
    for (let i = 0; i < 20; i++) {
      await reset();
      await reset(Buffer.from('POST /whoami HTTP/1.1\r\nhost: x\r\n\r\n'));
      // The first bytes of a TLS ClientHello, then nothing more.
      await reset(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    }
    await new Promise((r) => setTimeout(r, 100));
    const c = client({ tls: { ca: CA, cert: pem('client'), key: pem('client-key') } });
    expect(await c.call('/whoami', {})).toEqual({ principal: 'cert:broker-0' });
  });

  it('a plaintext client gets a clear error, not a reset', async () => {
    const c = client({});
    await expect(c.call('/whoami', {})).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/speaks TLS.*https/) });
  });

  it('a client that does not trust the server’s CA fails saying to check --ca', async () => {
    const c = client({ tls: { ca: pem('other-ca') } });
    await expect(c.call('/whoami', {})).rejects.toMatchObject({ code: 'BROKER_NOT_AVAILABLE', message: expect.stringMatching(/check --ca/) });
  });

  it('a TLS client against a plaintext listener says so', async () => {
    const plain = createMsgpackServer({});
    plain.post('/x', async () => ({}));
    await plain.listen({ port: 0, host: '127.0.0.1' });
    const c = new RpcClient({ host: '127.0.0.1', port: (plain.server.address() as { port: number }).port }, { tls: { ca: CA } });
    try {
      await expect(c.call('/x', {})).rejects.toMatchObject({ message: expect.stringMatching(/does not speak TLS/) });
    } finally {
      await c.close();
      await plain.close();
    }
  });
});
