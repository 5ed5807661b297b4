// HEALTHCHECK for the controller and broker roles: GET /health on the process's own listener,
// healthy when it answers 200 with status 'ok' (a broker answers 'starting' until it has
// registered and loaded its logs). The slim image has no curl, so this is plain node.
//
// The listener is found the way the process found it: a --listen flag on PID 1's command line,
// else TRIBUTARY_LISTEN in PID 1's environment (the entrypoint exports the container defaults
// there), else the role's container default. A container running the CLI or a shell is healthy.
//
// A secure process (--tls-cert/--tls-key/--tls-ca, or TRIBUTARY_TLS_*, found the same way) serves
// /health over TLS to authenticated callers only: the check calls it with the process's own
// certificate (mutual TLS, a cluster process), so it needs no password; the certificate is valid
// for 127.0.0.1 (`tributary certs create`'s default hosts).

import { readFileSync } from 'node:fs';
import { request } from 'node:https';

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

const environ = pid1('environ');
/** A flag of PID 1's command line, else its TRIBUTARY_* variable. */
function setting(flag, variable) {
  let value;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}`) value = argv[i + 1];
    else if (argv[i].startsWith(`--${flag}=`)) value = argv[i].slice(flag.length + 3);
  }
  value ??= environ.find((e) => e.startsWith(`${variable}=`))?.slice(variable.length + 1);
  return value === '' ? undefined : value;
}

const listen = setting('listen', 'TRIBUTARY_LISTEN') ?? (role === 'controller' ? '0.0.0.0:9090' : '0.0.0.0:9092');
const tlsFiles = [setting('tls-cert', 'TRIBUTARY_TLS_CERT'), setting('tls-key', 'TRIBUTARY_TLS_KEY'), setting('tls-ca', 'TRIBUTARY_TLS_CA')];
const tls = tlsFiles.every((f) => f !== undefined)
  ? { cert: readFileSync(tlsFiles[0]), key: readFileSync(tlsFiles[1]), ca: readFileSync(tlsFiles[2]) }
  : undefined;

const match = /^\[?(.*?)\]?:(\d+)$/.exec(listen);
if (!match) {
  console.error(`cannot read the listener '${listen}'`);
  process.exit(1);
}
const host = match[1] === '0.0.0.0' || match[1] === '' ? '127.0.0.1' : match[1] === '::' ? '[::1]' : match[1].includes(':') ? `[${match[1]}]` : match[1];

/** GET /health: plain fetch, or https with the process's own certificate. */
async function health() {
  if (tls === undefined) {
    const res = await fetch(`http://${host}:${match[2]}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
  }
  return new Promise((resolve, reject) => {
    const req = request(`https://${host}:${match[2]}/health`, { ...tls, minVersion: 'TLSv1.2', timeout: TIMEOUT_MS }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

try {
  const res = await health();
  const body = res.body;
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
