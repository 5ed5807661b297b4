// HEALTHCHECK for the controller and broker roles: GET /health on the process's own listener,
// healthy when it answers 200 with status 'ok' (a broker answers 'starting' until it has
// registered and loaded its logs). The slim image has no curl, so this is plain node.
//
// The listener is found the way the process found it: a --listen flag on PID 1's command line,
// else TRIBUTARY_LISTEN in PID 1's environment (the entrypoint exports the container defaults
// there), else the role's container default. A container running the CLI or a shell is healthy.

import { readFileSync } from 'node:fs';

const TIMEOUT_MS = 2000;

function pid1(file) {
  try {
    return readFileSync(`/proc/1/${file}`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

const argv = pid1('cmdline');
const role = argv.some((a) => a.endsWith('/controller.mjs')) ? 'controller' : argv.some((a) => a.endsWith('/broker.mjs')) ? 'broker' : undefined;
if (role === undefined) process.exit(0);

let listen;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--listen') listen = argv[i + 1];
  else if (argv[i].startsWith('--listen=')) listen = argv[i].slice('--listen='.length);
}
listen ??= pid1('environ')
  .find((e) => e.startsWith('TRIBUTARY_LISTEN='))
  ?.slice('TRIBUTARY_LISTEN='.length);
listen ??= role === 'controller' ? '0.0.0.0:9090' : '0.0.0.0:9092';

const match = /^\[?(.*?)\]?:(\d+)$/.exec(listen);
if (!match) {
  console.error(`cannot read the listener '${listen}'`);
  process.exit(1);
}
const host = match[1] === '0.0.0.0' || match[1] === '' ? '127.0.0.1' : match[1] === '::' ? '[::1]' : match[1].includes(':') ? `[${match[1]}]` : match[1];

try {
  const res = await fetch(`http://${host}:${match[2]}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = Buffer.from(await res.arrayBuffer());
  // The body is msgpack; {status: 'ok'} encodes the key and value as fixstrs: a6 "status" a2 "ok".
  const ok = body.includes(Buffer.concat([Buffer.from([0xa6]), Buffer.from('status'), Buffer.from([0xa2]), Buffer.from('ok')]));
  if (res.status !== 200 || !ok) {
    console.error(
      `${role} /health answered ${res.status}: ${body
        .toString('latin1')
        .replace(/[^\x20-\x7e]+/g, ' ')
        .trim()}`,
    );
    process.exit(1);
  }
} catch (err) {
  console.error(`${role} /health failed: ${err.message}`);
  process.exit(1);
}
