import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_OPS, BROKER_ROUTES, CONTROLLER_ROUTES, MSGPACK_CONTENT_TYPE, encodeMsgpack, type RouteSpec } from '@tributary/protocol';
import { ABUSE_KINDS, SLOW_ABUSE_KINDS, abuseRequests, abuseUntil, judgeAbuse, runAbuse, type AbuseTarget } from './abuse.ts';

const BODY_BYTES_MAX = 1000;

function answer(res: ServerResponse, status: number, code: string, close = false): void {
  const body = encodeMsgpack({ code, message: `${code} from the test server` });
  res.writeHead(status, { 'content-type': MSGPACK_CONTENT_TYPE, 'content-length': body.length, ...(close ? { connection: 'close' } : {}) });
  res.end(body);
}

/** Behaves as DESIGN.md § Limits asks: refuses, and cuts slow requests off. */
function goodHandler(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'GET') return void res.end('ok');
  if (!String(req.headers['content-type']).startsWith(MSGPACK_CONTENT_TYPE)) return answer(res, 400, 'INVALID_REQUEST', true);
  if (Number(req.headers['content-length']) > BODY_BYTES_MAX) return answer(res, 413, 'MESSAGE_TOO_LARGE', true);
  let length = 0;
  req.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length > BODY_BYTES_MAX && !res.headersSent) answer(res, 413, 'MESSAGE_TOO_LARGE', true);
  });
  req.on('end', () => {
    if (!res.headersSent) answer(res, 400, 'INVALID_REQUEST');
  });
}

/** Accepts anything, waits for ever, and fails the rest with 500. */
function badHandler(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  req.on('end', () => {
    res.writeHead(req.url === '/fail' ? 500 : 200);
    res.end();
  });
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.close();
    s.closeAllConnections();
  }
});

async function serve(handler: typeof goodHandler, timeouts: { requestTimeout: number; headersTimeout: number }, routes: RouteSpec[]): Promise<AbuseTarget> {
  const server = createServer({ ...timeouts, connectionsCheckingInterval: 200 }, handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name: 'test', host: '127.0.0.1', port: (server.address() as { port: number }).port, routes };
}

describe('abuseRequests', () => {
  it('covers every route of every target with every kind, each admin operation apart', () => {
    const targets: AbuseTarget[] = [
      { name: 'controller', host: '127.0.0.1', port: 1, routes: CONTROLLER_ROUTES },
      { name: 'broker-0', host: '127.0.0.1', port: 2, routes: BROKER_ROUTES },
    ];
    const requests = abuseRequests(targets);
    const paths = (name: string) => new Set(requests.filter((r) => r.target.name === name).map((r) => `${r.method} ${r.path}`));
    expect(paths('broker-0')).toContain('POST /admin/create-topic');
    expect(paths('broker-0')).toContain('POST /admin/set-broker-config');
    expect(paths('controller')).toContain('GET /ui/events');
    // '/admin/:op' becomes one route per admin operation.
    expect(paths('controller').size).toBe(CONTROLLER_ROUTES.length - 1 + ADMIN_OPS.length);
    expect(requests).toHaveLength((CONTROLLER_ROUTES.length - 1 + ADMIN_OPS.length + BROKER_ROUTES.length - 1 + ADMIN_OPS.length) * ABUSE_KINDS.length);
  });
});

describe('sendAbuse against a server that keeps its limits', () => {
  it('every kind on a POST and a GET route is judged well handled', async () => {
    const target = await serve(goodHandler, { requestTimeout: 1500, headersTimeout: 1000 }, [
      { method: 'POST', path: '/produce' },
      { method: 'GET', path: '/health' },
    ]);
    const outcomes = await runAbuse(abuseRequests([target]), { deadlineMs: 10_000 });
    expect(outcomes).toHaveLength(2 * ABUSE_KINDS.length);
    expect(outcomes.map(judgeAbuse).filter((x) => x !== undefined)).toEqual([]);
    const post = (kind: string) => outcomes.find((o) => o.method === 'POST' && o.kind === kind)!;
    expect(post('oversized')).toMatchObject({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    expect(post('oversized-chunked')).toMatchObject({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    expect(post('truncated')).toMatchObject({ status: 400, code: 'INVALID_REQUEST' });
    expect(post('trickle-body')).toMatchObject({ status: 408, closedByServer: true });
    for (const kind of SLOW_ABUSE_KINDS) expect(post(kind).closedByServer).toBe(true);
  });
});

describe('a streamed oversized body', () => {
  it('keeps its chunked framing through backpressure, so the server refuses it for its size', async () => {
    let seen = 0;
    const target = await serve(
      (req, res) => {
        // Reads slowly enough for the sender to meet backpressure many times.
        req.on('data', (chunk: Buffer) => {
          seen += chunk.length;
          req.pause();
          setTimeout(() => req.resume(), 1);
          if (seen > 8 * 1024 * 1024 && !res.headersSent) answer(res, 413, 'MESSAGE_TOO_LARGE', true);
        });
      },
      { requestTimeout: 30_000, headersTimeout: 10_000 },
      [{ method: 'POST', path: '/produce' }],
    );
    const [outcome] = await runAbuse(abuseRequests([target], ['oversized-chunked']), { chunkedBytesMax: 9 * 1024 * 1024 });
    expect(outcome).toMatchObject({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    expect(seen).toBeGreaterThan(8 * 1024 * 1024);
  });
});

describe('judgeAbuse against a server that keeps none', () => {
  it('flags accepted malformed bodies, 5xx answers and connections nobody cuts', async () => {
    const target = await serve(badHandler, { requestTimeout: 0, headersTimeout: 60_000 }, [
      { method: 'POST', path: '/produce' },
      { method: 'POST', path: '/fail' },
    ]);
    const outcomes = await runAbuse(abuseRequests([target], ['truncated', 'nested', 'trickle-headers', 'silent']), { deadlineMs: 1500 });
    const verdicts = outcomes.map(judgeAbuse);
    expect(verdicts.filter((v) => v?.includes('a malformed request was accepted (200)'))).toHaveLength(2);
    expect(verdicts.filter((v) => v?.includes('answered 500'))).toHaveLength(2);
    expect(verdicts.filter((v) => v?.includes('did not cut the connection'))).toHaveLength(4);
  });

  it('flags a target that cannot be reached', async () => {
    const [outcome] = await runAbuse(abuseRequests([{ name: 'gone', host: '127.0.0.1', port: 1, routes: [{ method: 'GET', path: '/health' }] }], ['garbage']));
    expect(judgeAbuse(outcome!)).toMatch(/could not connect \(ECONNREFUSED\)/);
  });
});

describe('abuseUntil', () => {
  it('keeps sending random requests until aborted, then ends the ones in flight', async () => {
    const target = await serve(goodHandler, { requestTimeout: 1500, headersTimeout: 1000 }, [{ method: 'POST', path: '/produce' }]);
    const stop = new AbortController();
    const seen: string[] = [];
    const running = abuseUntil(abuseRequests([target]), stop.signal, {
      concurrency: 4,
      seed: 7,
      onOutcome: (o) => {
        seen.push(o.kind);
        if (seen.length >= 40) stop.abort();
      },
    });
    const outcomes = await running;
    expect(outcomes.length).toBeGreaterThanOrEqual(40);
    expect(new Set(seen).size).toBeGreaterThan(3);
  });
});
