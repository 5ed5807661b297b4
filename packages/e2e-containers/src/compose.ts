// A compose project driven as a user drives it: `docker compose` (Compose v2) where it exists,
// else docker-compose 1.29 (Debian's, as in CI). testcontainers' compose module runs Compose v2
// only, so the project is brought up with the CLI and testcontainers starts the containers that
// join its network (GenericContainer with the project's network mode).

import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { docker } from './container-cluster.ts';

const execFileAsync = promisify(execFile);

let composeBinary: Promise<string[]> | undefined;

/** `docker compose` when the v2 plugin is there, else `docker-compose`. */
export function composeCommand(): Promise<string[]> {
  composeBinary ??= execFileAsync('docker', ['compose', 'version'], { timeout: 30_000 }).then(
    () => ['docker', 'compose'],
    () => ['docker-compose'],
  );
  return composeBinary;
}

export interface ComposeProjectOptions {
  /** The project name (-p): its network is `<project>_default`, its volumes `<project>_<name>`. */
  project: string;
  /** The compose file, from the repository root. */
  file: string;
  /** The repository root (the compose file's directory). */
  cwd: string;
  /** Extra environment for compose's variable substitution (e.g. TRIBUTARY_IMAGE). */
  env?: Record<string, string>;
}

export class ComposeProject {
  readonly options: ComposeProjectOptions;

  constructor(options: ComposeProjectOptions) {
    this.options = options;
  }

  get network(): string {
    return `${this.options.project}_default`;
  }

  volume(name: string): string {
    return `${this.options.project}_${name}`;
  }

  async run(args: string[], timeoutMs = 300_000): Promise<string> {
    const [bin, ...pre] = await composeCommand();
    const { stdout, stderr } = await execFileAsync(bin!, [...pre, '-p', this.options.project, '-f', this.options.file, ...args], {
      cwd: this.options.cwd,
      env: { ...process.env, ...this.options.env },
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return `${stdout}${stderr}`.trim();
  }

  up(): Promise<string> {
    return this.run(['up', '-d']);
  }

  /** Removes the containers, the network and the volumes. */
  async down(): Promise<void> {
    await this.run(['down', '-v', '--remove-orphans'], 120_000).catch(() => '');
  }

  /** The id of a service's container. */
  async containerId(service: string): Promise<string> {
    const id = (await this.run(['ps', '-q', service])).split('\n').filter((l) => /^[0-9a-f]{12,}$/.test(l.trim()))[0];
    if (id === undefined) throw new Error(`no container for service ${service} in ${this.options.project}`);
    return id.trim();
  }

  /** Waits for a one-shot service to exit and returns its exit code. */
  async waitExit(service: string, timeoutMs: number): Promise<number> {
    const id = await this.containerId(service);
    const { stdout } = await execFileAsync('docker', ['wait', id], { timeout: timeoutMs });
    return Number(stdout.trim());
  }

  /** Health of every running container of the project. */
  async health(): Promise<Map<string, string>> {
    const ids = (await docker('ps', '-q', '--filter', `label=com.docker.compose.project=${this.options.project}`)).split('\n').filter(Boolean);
    const result = new Map<string, string>();
    for (const id of ids) {
      const [service, status] = (
        await docker(
          'inspect',
          '-f',
          '{{index .Config.Labels "com.docker.compose.service"}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
          id,
        )
      ).split(' ');
      result.set(service!, status!);
    }
    return result;
  }

  /** Every service's log into <dir>/<project>.log (for a failed run). */
  async saveLogs(dir: string): Promise<void> {
    const text = await this.run(['logs', '--no-color'], 60_000).catch((err: Error) => err.message);
    await new Promise<void>((resolve) => createWriteStream(join(dir, `${this.options.project}.log`)).end(text, resolve));
  }
}
