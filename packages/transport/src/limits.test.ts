// The server's limits against raw sockets: what a misbehaving client can make it hold, and that
// it refuses with a clear error and goes on serving.

import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MSGPACK_CONTENT_TYPE, asBody, decodeMsgpack, encodeMsgpack } from '@tributary/protocol';
import { eventually } from '@tributary/testkit';
import { createServerBudget, type ServerBudget } from './budget.ts';
import { createMsgpackServer, routeLimits, type MsgpackServer, type MsgpackServerOptions } from './server.ts';

/** A hand-driven HTTP/1.1 connection: what it sent, what came back, whether the server closed it. */
class RawConnection {
  readonly socket: Socket;
  private received = Buffer.alloc(0);
  closed = false;
  readonly closedPromise: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    this.socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  post(path: string, body: Buffer, headers: Record<string, string | number> = {}): void {
    const all = { 'content-type': MSGPACK_CONTENT_TYPE, 'content-length': body.length, ...headers };
    this.write(
      `POST ${path} HTTP/1.1\r\nhost: test\r\n${Object.entries(all)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`,
    );
    if (body.length > 0) this.write(body);
  }

  /** The first complete answer, once it has arrived; undefined before. */
  answer(): { status: number; headers: string; body: unknown } | undefined {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const head = this.received.subarray(0, end).toString('latin1');
    const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (this.received.length < end + 4 + length) return undefined;
    const bytes = this.received.subarray(end + 4, end + 4 + length);
    const isMsgpack = head.toLowerCase().includes(MSGPACK_CONTENT_TYPE);
    return { status: Number(head.split(' ')[1]), headers: head.toLowerCase(), body: isMsgpack ? decodeMsgpack(bytes) : bytes.toString() };
  }

  async answered(timeoutMs = 10_000) {
    return eventually(() => this.answer() ?? false, { timeoutMs });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const servers: MsgpackServer[] = [];
const connections: RawConnection[] = [];
afterEach(async () => {
  for (const c of connections.splice(0)) c.destroy();
  for (const s of servers.splice(0)) await s.close();
});

async function serve(
  options: MsgpackServerOptions,
  routes: (app: MsgpackServer) => void,
): Promise<{ app: MsgpackServer; port: number; open: () => RawConnection }> {
  const app = createMsgpackServer(options);
  routes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(app);
  const port = (app.server.address() as { port: number }).port;
  return {
    app,
    port,
    open: () => {
      const c = new RawConnection(port);
      connections.push(c);
      return c;
    },
  };
}

const echo = (app: MsgpackServer) => {
  app.post('/small', routeLimits({ bodyBytesMax: 1000, elementsMax: 10, depthMax: 2 }), async (request) => ({ got: asBody(request.body) }));
  app.post('/echo', async (request) => ({ got: asBody(request.body) }));
};

describe('per-route body limits', () => {
  it.each([
    [
      'many tiny values',
      { partitions: Array.from({ length: 50 }, () => ({})) },
      400,
      'INVALID_REQUEST',
      'body of POST /small holds more than 10 values (elementsMax)',
    ],
    ['nesting past depthMax', { a: { b: { c: 1 } } }, 400, 'INVALID_REQUEST', 'body of POST /small nests containers deeper than 2 (depthMax)'],
    ['a body within its limits', { a: { b: 1 } }, 200, undefined, undefined],
  ])('%s', async (_name, body, status, code, message) => {
    const { open } = await serve({}, echo);
    const c = open();
    c.post('/small', encodeMsgpack(body));
    const answer = await c.answered();
    expect(answer.status).toBe(status);
    if (code !== undefined) expect(answer.body).toEqual({ code, message: expect.stringContaining(message!) });
    else expect(answer.body).toEqual({ got: body });
  });

  it('refuses a truncated body with INVALID_REQUEST naming the route', async () => {
    const { open } = await serve({}, echo);
    const c = open();
    c.post('/echo', encodeMsgpack({ name: 'abcdefghij' }).subarray(0, 8));
    expect((await c.answered()).body).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringMatching(/^body of POST \/echo is truncated/) });
  });

  it('refuses a declared oversize body before reading it, closes the connection, and serves the next one', async () => {
    const budget = createServerBudget({ connectionsMax: 10, requestBytesInFlightMax: 64 << 20 });
    const { open } = await serve({ budget }, echo);
    const c = open();
    // Headers only: the server must answer without waiting for the 5000 bytes it was promised.
    c.post('/small', Buffer.alloc(0), { 'content-length': 5000 });
    const answer = await c.answered();
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ code: 'MESSAGE_TOO_LARGE', message: 'body of POST /small is 5000 bytes; bodyBytesMax is 1000' });
    expect(answer.headers).toContain('connection: close');
    await c.closedPromise;
    const next = open();
    next.post('/small', encodeMsgpack({ ok: 1 }));
    expect((await next.answered()).body).toEqual({ got: { ok: 1 } });
    expect(budget.bytes.inFlight).toBe(0);
  });

  it('refuses a streamed body once it passes the limit, without reading the rest', async () => {
    const { open } = await serve({}, echo);
    const c = open();
    c.write(`POST /small HTTP/1.1\r\nhost: t\r\ncontent-type: ${MSGPACK_CONTENT_TYPE}\r\ntransfer-encoding: chunked\r\n\r\n`);
    c.write(`800\r\n${'x'.repeat(0x800)}\r\n`);
    const answer = await c.answered();
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ code: 'MESSAGE_TOO_LARGE', message: 'body of POST /small is more than 1000 bytes; bodyBytesMax is 1000' });
    await c.closedPromise;
  });

  it('delivers the refusal to clients that keep streaming (a lingering close, not a reset)', async () => {
    const { port } = await serve({ limits: { body: { bodyBytesMax: 16 << 20 } } }, echo);
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000), Buffer.from('\r\n')]);
    // Six clients stream 60 MB each as fast as the server reads, stopping only at the answer.
    const statuses = await Promise.all(
      Array.from(
        { length: 6 },
        () =>
          new Promise<number | undefined>((resolve) => {
            const c = new RawConnection(port);
            connections.push(c);
            c.socket.setNoDelay(true);
            c.write(`POST /echo HTTP/1.1\r\nhost: t\r\ncontent-type: ${MSGPACK_CONTENT_TYPE}\r\ntransfer-encoding: chunked\r\n\r\n`);
            let sent = 0;
            const pump = (): void => {
              while (sent < 60 << 20 && c.answer() === undefined && !c.closed) {
                sent += chunk.length;
                if (!c.socket.write(chunk)) return void c.socket.once('drain', pump);
              }
            };
            pump();
            void c.closedPromise.then(() => resolve(c.answer()?.status));
          }),
      ),
    );
    expect(statuses).toEqual([413, 413, 413, 413, 413, 413]);
  });

  it('refuses other content types unread and closes the connection', async () => {
    const { open } = await serve({}, echo);
    const c = open();
    c.post('/echo', Buffer.alloc(0), { 'content-type': 'application/json', 'content-length': 10_000_000 });
    const answer = await c.answered();
    expect(answer.body).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining("content type 'application/json' is not supported") });
    await c.closedPromise;
  });

  it('will not register a route whose largest body could never be admitted', async () => {
    const app = createMsgpackServer({ limits: { requestBytesInFlightMax: 1000 } });
    servers.push(app);
    expect(() => app.post('/huge', routeLimits({ bodyBytesMax: 1001 }), async () => ({}))).toThrow(/bodyBytesMax 1001 exceeds requestBytesInFlightMax 1000/);
  });
});

describe('timeouts', () => {
  const limits = { requestTimeoutMs: 600, headersTimeoutMs: 400, idleTimeoutMs: 300 };

  it('cuts a trickled body (408), trickled headers and a silent connection, and keeps serving', async () => {
    const { open } = await serve({ limits }, (app) => {
      echo(app);
    });
    const body = open();
    body.post('/echo', Buffer.alloc(0), { 'content-length': 100 });
    const bodyTimer = setInterval(() => body.write('x'), 50);
    const headers = open();
    const line = 'POST /echo HTTP/1.1\r\nhost: t\r\n';
    let i = 0;
    const headerTimer = setInterval(() => headers.write(line[i++ % line.length]!), 50);
    const silent = open();
    try {
      await Promise.all([body.closedPromise, headers.closedPromise, silent.closedPromise]);
    } finally {
      clearInterval(bodyTimer);
      clearInterval(headerTimer);
    }
    expect(body.answer()?.status).toBe(408);
    const fine = open();
    fine.post('/echo', encodeMsgpack({ n: 1 }));
    expect((await fine.answered()).body).toEqual({ got: { n: 1 } });
  });

  it('lets a long poll wait past requestTimeoutMs: the timeout bounds receiving the request, not answering it', async () => {
    let release = (): void => {};
    const { open } = await serve({ limits }, (app) => {
      app.post('/poll', async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return { done: true };
      });
    });
    const c = open();
    c.post('/poll', encodeMsgpack({}));
    // Three request timeouts (and Node's check every second) pass with the answer pending.
    const started = Date.now();
    await eventually(() => Date.now() - started > 3 * limits.requestTimeoutMs + 1000, { timeoutMs: 10_000 });
    expect(c.closed).toBe(false);
    release();
    expect((await c.answered()).body).toEqual({ done: true });
  });

  it('closes a keep-alive connection idle for idleTimeoutMs', async () => {
    const { open } = await serve({ limits }, echo);
    const c = open();
    c.post('/echo', encodeMsgpack({ n: 1 }));
    await c.answered();
    await c.closedPromise;
  });
});

describe('per-process caps', () => {
  it('refuses connections past connectionsMax over all listeners sharing a budget, and admits again once one closes', async () => {
    const budget: ServerBudget = createServerBudget({ connectionsMax: 2, requestBytesInFlightMax: 64 << 20 });
    const a = await serve({ budget }, echo);
    const b = await serve({ budget }, echo);
    const first = a.open();
    const second = b.open();
    await eventually(() => budget.connections.open === 2);
    const third = a.open();
    await third.closedPromise;
    expect(third.answer()).toBeUndefined();
    expect(budget.connections.refused).toBe(1);
    // The first two still work.
    first.post('/echo', encodeMsgpack({ n: 1 }));
    second.post('/echo', encodeMsgpack({ n: 2 }));
    expect((await first.answered()).body).toEqual({ got: { n: 1 } });
    expect((await second.answered()).body).toEqual({ got: { n: 2 } });
    first.destroy();
    await eventually(() => budget.connections.open === 1);
    const fourth = b.open();
    fourth.post('/echo', encodeMsgpack({ n: 4 }));
    expect((await fourth.answered()).body).toEqual({ got: { n: 4 } });
  });

  it('holds a request unread while requestBytesInFlightMax is taken, then serves it in turn', async () => {
    const budget = createServerBudget({ connectionsMax: 10, requestBytesInFlightMax: 1000 });
    const { open } = await serve({ budget, limits: { body: { bodyBytesMax: 600, elementsMax: 100, depthMax: 4 } } }, echo);
    const slowBody = encodeMsgpack({ blob: Buffer.alloc(500, 1) });
    const slow = open();
    slow.post('/echo', slowBody.subarray(0, 10), { 'content-length': slowBody.length });
    await eventually(() => budget.bytes.inFlight === slowBody.length);
    const waiting = open();
    const waitingBody = encodeMsgpack({ blob: Buffer.alloc(500, 2) });
    waiting.post('/echo', waitingBody);
    await eventually(() => budget.bytes.waiting === 1);
    // A small request queues behind it too (FIFO), even though it would fit.
    const small = open();
    small.post('/echo', encodeMsgpack({ n: 3 }));
    await eventually(() => budget.bytes.waiting === 2);
    expect(waiting.answer()).toBeUndefined();
    slow.write(slowBody.subarray(10));
    expect((await slow.answered()).body).toEqual({ got: { blob: Buffer.alloc(500, 1) } });
    expect((await waiting.answered()).body).toEqual({ got: { blob: Buffer.alloc(500, 2) } });
    expect((await small.answered()).body).toEqual({ got: { n: 3 } });
    await eventually(() => budget.bytes.inFlight === 0 && budget.bytes.waiting === 0);
  });

  it('gives back the bytes of a request whose connection drops, whether admitted or waiting', async () => {
    const budget = createServerBudget({ connectionsMax: 10, requestBytesInFlightMax: 1000 });
    const { open } = await serve({ budget, limits: { body: { bodyBytesMax: 800, elementsMax: 100, depthMax: 4 } } }, echo);
    const admitted = open();
    admitted.post('/echo', Buffer.alloc(5), { 'content-length': 800 });
    await eventually(() => budget.bytes.inFlight === 800);
    const waiting = open();
    waiting.post('/echo', Buffer.alloc(0), { 'content-length': 800 });
    await eventually(() => budget.bytes.waiting === 1);
    waiting.destroy();
    await eventually(() => budget.bytes.waiting === 0);
    admitted.destroy();
    await eventually(() => budget.bytes.inFlight === 0);
  });

  it('releases a request once its handler has taken it: a long wait in the handler holds no budget', async () => {
    const budget = createServerBudget({ connectionsMax: 10, requestBytesInFlightMax: 1000 });
    let release = (): void => {};
    const { open } = await serve({ budget, limits: { body: { bodyBytesMax: 1000, elementsMax: 100, depthMax: 4 } } }, (app) => {
      app.post('/wait', async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return { ok: true };
      });
      echo(app);
    });
    const waiter = open();
    waiter.post('/wait', encodeMsgpack({ blob: Buffer.alloc(900) }));
    await eventually(() => budget.connections.open === 1 && budget.bytes.inFlight === 0 && budget.bytes.waiting === 0);
    const other = open();
    other.post('/echo', encodeMsgpack({ blob: Buffer.alloc(900, 3) }));
    expect((await other.answered()).body).toEqual({ got: { blob: Buffer.alloc(900, 3) } });
    release();
    expect((await waiter.answered()).body).toEqual({ ok: true });
  });
});
