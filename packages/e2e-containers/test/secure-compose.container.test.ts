// Issue 20: the secure compose variant (compose.secure.yaml) as a user brings it up — the
// one-shot `secrets` makes the CA, the certificates and admin's password; every process runs
// TLS with its own certificate; health checks pass with authentication; `init` creates `demo` as
// admin. Then, from containers on the project's network (testcontainers): the CLI works with
// the CA and admin's credentials; a container without them is refused — no CA, no user, a wrong
// password, and a bare TLS call to the routes only cluster processes may use — and nothing changes.
//
// Run: node scripts/build.ts && docker build -t tributary:dev -f docker/Dockerfile . &&
//      TESTCONTAINERS_RYUK_DISABLED=true vitest run --project containers
// Needs host ports 19090-19097 and 9092-9097 free (the compose file publishes them, as compose.yaml
// does), and kcat on the host.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { ComposeProject, IMAGE, SEED_PLACEMENT, TEST_LABEL } from '../src/index.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LOG_DIR = fileURLToPath(new URL('../../../test-output/containers/', import.meta.url));
const BOOTSTRAP = 'broker-0:9092,broker-3:9092';
const ADMIN = ['--ca', '/secrets/ca.pem', '--user', 'admin', '--password-file', '/secrets/admin.password'];

/**
 * A TLS POST (the CA trusted, no client certificate) from inside a container: prints the status
 * and the readable part of the msgpack answer. The slim image has no curl; node is there.
 */
const RAW_POST = `
const https = require('node:https');
const [url, caFile] = process.argv.slice(2);
const req = https.request(url, { method: 'POST', ca: require('node:fs').readFileSync(caFile), headers: { 'content-type': 'application/msgpack' }, timeout: 5000 }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c)).on('end', () => console.log(res.statusCode, Buffer.concat(chunks).toString('latin1').replace(/[^\\x20-\\x7e]+/g, ' ')));
});
req.on('error', (err) => console.log('error', err.message));
req.end(Buffer.from([0x80]));
`;

async function exec(container: StartedTestContainer, command: string[]): Promise<{ exitCode: number; output: string }> {
  const result = await container.exec(command);
  return { exitCode: result.exitCode, output: result.output };
}

describe('secure compose variant (compose.secure.yaml)', () => {
  const compose = new ComposeProject({ project: 'tributary-secure-test', file: 'compose.secure.yaml', cwd: ROOT, env: { TRIBUTARY_IMAGE: IMAGE } });
  let insider: StartedTestContainer;
  let outsider: StartedTestContainer;
  let failed = false;

  beforeAll(async () => {
    mkdirSync(LOG_DIR, { recursive: true });
    await compose.down();
    await compose.up();
    const initExit = await compose.waitExit('init', 240_000);
    if (initExit !== 0) {
      await compose.saveLogs(LOG_DIR);
      throw new Error(`init exited ${initExit}: see test-output/containers/${compose.options.project}.log`);
    }
    const client = (name: string) =>
      new GenericContainer(IMAGE)
        .withCommand(['sleep', 'infinity'])
        .withNetworkMode(compose.network)
        .withLabels({ [TEST_LABEL]: 'containers', 'tributary.role': name })
        .withTmpFs({ '/var/lib/tributary': 'rw' });
    // With the secrets volume (read-only): the CA and admin's password.
    insider = await client('secure-client')
      .withBindMounts([{ source: compose.volume('secrets'), target: '/secrets', mode: 'ro' }])
      .start();
    // Without: only the CA's certificate, which is public (a client needs it to trust the cluster).
    const ca = (await exec(insider, ['cat', '/secrets/ca.pem'])).output;
    expect(ca).toMatch(/BEGIN CERTIFICATE/);
    outsider = await client('outsider')
      .withCopyContentToContainer([
        { content: ca, target: '/tmp/ca.pem' },
        { content: RAW_POST, target: '/tmp/raw-post.cjs' },
      ])
      .start();
  });

  afterAll(async () => {
    if (failed) await compose.saveLogs(LOG_DIR);
    await insider?.stop().catch(() => undefined);
    await outsider?.stop().catch(() => undefined);
    await compose.down();
  });

  const track = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    }
  };

  it('comes up: secrets made once, every process healthy through its authenticated health check, demo created as admin', () =>
    track(async () => {
      const health = await compose.health();
      for (const service of ['controller', 'broker-0', 'broker-1', 'broker-2', 'broker-3', 'broker-4', 'broker-5'])
        expect(health.get(service), `${service}: ${[...health]}`).toBe('healthy');
      const listing = (await exec(insider, ['ls', '-l', '/secrets'])).output;
      // Files 0600, owned by the processes' user (node).
      for (const name of ['ca.pem', 'admin.password', 'controller.pem', 'controller-key.pem', 'broker-5-key.pem'])
        expect(listing).toMatch(new RegExp(`-rw------- +1 node +node .* ${name.replace('.', '\\.')}\\n`));
      expect(listing).not.toMatch(/broker-6/);
      const logs = await compose.run(['logs', '--no-color', 'secrets', 'init']);
      expect(logs).toMatch(/made controller, broker-0, broker-1, broker-2, broker-3, broker-4, broker-5/);
      expect(logs).toMatch(/init: created topic demo/);
    }));

  it('the CLI works with the CA and credentials: the seed table, a record produced and consumed back', () =>
    track(async () => {
      const described = await exec(insider, ['tributary-entrypoint', 'tributary', 'topics', 'describe', 'demo', '--json', '--bootstrap', BOOTSTRAP, ...ADMIN]);
      expect(described.exitCode, described.output).toBe(0);
      const topic = JSON.parse(described.output) as { partitions: { partition: number; replicas: number[]; isr: number[] }[] };
      expect(topic.partitions.map((p) => p.replicas)).toEqual(SEED_PLACEMENT);
      expect(topic.partitions.every((p) => p.isr.length === 3)).toBe(true);

      const produced = await exec(insider, [
        'sh',
        '-c',
        `echo hello-secure | tributary-entrypoint tributary produce demo --partition 7 --bootstrap ${BOOTSTRAP} ${ADMIN.join(' ')}`,
      ]);
      expect(produced.exitCode, produced.output).toBe(0);
      const consumed = await exec(insider, [
        'tributary-entrypoint',
        'tributary',
        'consume',
        'demo',
        '--partition',
        '7',
        '--from-beginning',
        '--max-messages',
        '1',
        '--timeout-ms',
        '20000',
        '--bootstrap',
        BOOTSTRAP,
        ...ADMIN,
      ]);
      expect(consumed.exitCode, consumed.output).toBe(0);
      expect(consumed.output).toMatch(/hello-secure/);

      // The admin's own commands too: a user, listed.
      const added = await exec(insider, [
        'tributary-entrypoint',
        'tributary',
        'users',
        'add',
        'alice',
        '--user-password',
        'a-secret',
        '--bootstrap',
        BOOTSTRAP,
        ...ADMIN,
      ]);
      expect(added.exitCode, added.output).toBe(0);
      const users = await exec(insider, ['tributary-entrypoint', 'tributary', 'users', 'list', '--bootstrap', BOOTSTRAP, ...ADMIN]);
      expect(users.output).toMatch(/alice/);
    }));

  it('a container on the same network without credentials is refused, and nothing changes', () =>
    track(async () => {
      const cli = (...args: string[]) => exec(outsider, ['tributary-entrypoint', 'tributary', ...args, '--bootstrap', BOOTSTRAP]);
      const before = await exec(insider, ['tributary-entrypoint', 'tributary', 'cluster', '--json', '--bootstrap', BOOTSTRAP, ...ADMIN]);
      expect(before.exitCode, before.output).toBe(0);

      // No CA: the listener speaks TLS.
      const plaintext = await cli('topics', 'list');
      expect(plaintext.exitCode).not.toBe(0);
      expect(plaintext.output).toMatch(/speaks TLS/);
      // The CA but no user; a wrong password; a user without ACLs.
      const anonymous = await cli('topics', 'list', '--ca', '/tmp/ca.pem');
      expect(anonymous.exitCode).not.toBe(0);
      expect(anonymous.output).toMatch(/SASL_AUTHENTICATION_FAILED/);
      const guessing = await cli('topics', 'delete', 'demo', '--ca', '/tmp/ca.pem', '--user', 'admin', '--password', 'guess');
      expect(guessing.exitCode).not.toBe(0);
      expect(guessing.output).toMatch(/SASL_AUTHENTICATION_FAILED/);
      const produce = await exec(outsider, [
        'sh',
        '-c',
        `echo intruder | tributary-entrypoint tributary produce demo --bootstrap ${BOOTSTRAP} --ca /tmp/ca.pem --user alice --password a-secret`,
      ]);
      expect(produce.exitCode).not.toBe(0);
      expect(produce.output).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
      // The cluster-internal routes without a cluster certificate: registering as broker 0 at the
      // controller's broker listener, fetching as a replica from broker 1.
      for (const url of ['https://controller:9091/broker/register', 'https://controller:9091/metadata/poll', 'https://broker-1:9092/replica/fetch']) {
        const raw = await exec(outsider, ['node', '/tmp/raw-post.cjs', url, '/tmp/ca.pem']);
        expect(raw.output, url).toMatch(/^4\d\d .*UNAUTHORIZED/);
      }

      // Nothing changed: the same brokers at the same addresses, demo still there.
      const after = await exec(insider, ['tributary-entrypoint', 'tributary', 'cluster', '--json', '--bootstrap', BOOTSTRAP, ...ADMIN]);
      expect(JSON.parse(after.output).brokers).toEqual(JSON.parse(before.output).brokers);
      const topics = await exec(insider, ['tributary-entrypoint', 'tributary', 'topics', 'list', '--bootstrap', BOOTSTRAP, ...ADMIN]);
      expect(topics.output).toMatch(/^demo$/m);
      // The refusals are in the controller's log, with the principal.
      const controllerLog = await compose.run(['logs', '--no-color', 'controller']);
      expect(controllerLog).toMatch(/authentication refused/);
    }));

  it('kcat on the host over SASL_SSL (127.0.0.1:9092+N): the six brokers at their host addresses, and the record the CLI wrote', () =>
    track(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tributary-secure-kcat-'));
      try {
        const caFile = join(dir, 'ca.pem');
        writeFileSync(caFile, `${readCa(await exec(insider, ['cat', '/secrets/ca.pem']))}\n`);
        const password = (await exec(insider, ['cat', '/secrets/admin.password'])).output.trim();
        const sasl = (mechanism: string, pw: string) => [
          '-b',
          '127.0.0.1:9092,127.0.0.1:9095',
          '-X',
          'security.protocol=SASL_SSL',
          '-X',
          `ssl.ca.location=${caFile}`,
          '-X',
          `sasl.mechanisms=${mechanism}`,
          '-X',
          'sasl.username=admin',
          '-X',
          `sasl.password=${pw}`,
        ];
        const listed = spawnSync('kcat', [...sasl('SCRAM-SHA-256', password), '-L', '-J'], { encoding: 'utf8', timeout: 60_000 });
        expect(listed.status, listed.stderr).toBe(0);
        const brokers = (JSON.parse(listed.stdout) as { brokers: { id: number; name: string }[] }).brokers.sort((a, b) => a.id - b.id);
        expect(brokers.map((b) => b.name)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `127.0.0.1:${9092 + i}`));
        const read = spawnSync('kcat', [...sasl('SCRAM-SHA-512', password), '-C', '-t', 'demo', '-p', '7', '-o', 'beginning', '-e', '-q'], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(read.status, read.stderr).toBe(0);
        expect(read.stdout).toMatch(/hello-secure/);
        const refused = spawnSync('kcat', [...sasl('PLAIN', 'guess'), '-L', '-m', '5'], { encoding: 'utf8', timeout: 60_000 });
        expect(refused.status).not.toBe(0);
        expect(refused.stderr).toMatch(/SASL authentication error/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }));

  it('the secrets survive a restart of the one-shot: the same CA, the same password', () =>
    track(async () => {
      const ca = readCa(await exec(insider, ['cat', '/secrets/ca.pem']));
      const password = (await exec(insider, ['cat', '/secrets/admin.password'])).output;
      const again = await compose.run(['run', '--rm', '-T', 'secrets']);
      expect(again).toMatch(/all there already/);
      expect(readCa(await exec(insider, ['cat', '/secrets/ca.pem']))).toBe(ca);
      expect((await exec(insider, ['cat', '/secrets/admin.password'])).output).toBe(password);
    }));
});

function readCa(result: { output: string }): string {
  return result.output.trim();
}
