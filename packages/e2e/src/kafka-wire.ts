// Kafka's wire protocol from a test's side: one request on a fresh connection, answered or not
// (issue 19's conformance tests check what the listener says to frames no client would send).

import { connect } from 'node:net';
import { FrameDecoder, decodeResponse, encodeRequest, type Message } from '@tributary/kafka';

/** Sends `bytes` and resolves with the first response frame, or 'closed' when the broker closes the connection first. */
export function exchange(port: number, bytes: Buffer, timeoutMs = 10_000): Promise<Buffer | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const decoder = new FrameDecoder(64 * 1024 * 1024);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    const done = (v: Buffer | 'closed' | 'timeout') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const frame = decoder.next();
      if (frame !== undefined) done(frame);
    });
    socket.on('error', () => done('closed'));
    socket.on('close', () => done('closed'));
  });
}

/** One request of `apiKey` at `apiVersion`; the decoded response body. */
export async function kafkaRequest(port: number, apiKey: number, apiVersion: number, body: Message, correlationId = 1): Promise<Message> {
  const answer = await exchange(port, encodeRequest({ apiKey, apiVersion, correlationId, clientId: 'tributary-e2e' }, body));
  if (typeof answer === 'string') throw new Error(`no answer to api ${apiKey} v${apiVersion}: ${answer}`);
  const decoded = decodeResponse(apiKey, apiVersion, answer);
  if (decoded.correlationId !== correlationId) throw new Error(`correlation id ${decoded.correlationId}, expected ${correlationId}`);
  return decoded.body;
}
