// A client that goes away while a large answer streams to it (a broker killed with kill -9 in
// the middle of a full-metadata answer) is not a bug of the server: it must not reach
// onUnexpectedError, which the controller and brokers treat as fatal.

import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MSGPACK_CONTENT_TYPE, encodeMsgpack } from '@tributary/protocol';
import { createMsgpackServer, type MsgpackServer } from './server.ts';

describe('a client closing its connection while a streamed answer is written', () => {
  let app: MsgpackServer;
  let port = 0;
  const unexpected: unknown[] = [];

  beforeAll(async () => {
    app = createMsgpackServer({ onUnexpectedError: (err) => unexpected.push(err) });
    // 16 MiB in 64 KiB parts: streamed part by part (serializeMsgpack), more than a socket buffer holds.
    app.post('/big', async () => ({ parts: Array.from({ length: 256 }, (_, i) => Buffer.alloc(64 * 1024, i)) }));
    // A long poll: the client is gone by the time the (large) answer is ready.
    app.post('/late', async () => {
      await new Promise((r) => setTimeout(r, 100));
      return { parts: Array.from({ length: 16 }, (_, i) => Buffer.alloc(64 * 1024, i)) };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await app.close();
  });

  it('is not reported as an unexpected error, and the server goes on serving', async () => {
    for (let round = 0; round < 5; round++) {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/big', headers: { 'content-type': MSGPACK_CONTENT_TYPE } }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end(encodeMsgpack({}));
      });
    }
    for (let round = 0; round < 3; round++) {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/late', headers: { 'content-type': MSGPACK_CONTENT_TYPE } });
      req.on('error', () => undefined);
      req.end(encodeMsgpack({}), () => setTimeout(() => req.destroy(), 10));
    }
    await new Promise((r) => setTimeout(r, 400));
    expect(unexpected).toEqual([]);
    const whole = await app.inject({ method: 'POST', url: '/big', headers: { 'content-type': MSGPACK_CONTENT_TYPE }, payload: encodeMsgpack({}) });
    expect(whole.statusCode).toBe(200);
  });
});
