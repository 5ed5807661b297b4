// Issue 17 item 7, docs that cannot rot: README.md's "Run it in Docker" block, read from the
// README and run as written through `sh -c` from the repository root, in order, each line checked
// for exit 0 and for what readme-walkthroughs.ts says its output must show.
//
// It needs a Docker engine and Compose v2's `docker compose` (where only docker-compose 1.29 is
// installed, .ci/bin/docker translates; .ci/docker.sh puts it on PATH for this test), and the base
// image docker/Dockerfile builds FROM (pulled, or scripts/offline-base-image.sh). The compose
// project is named by $COMPOSE_PROJECT_NAME, which both Compose versions read, so that the lines
// stay as written and a developer's own compose project is not touched; its containers and
// volumes are removed before (an earlier run's leftovers) and after. compose.yaml publishes the
// default ports, so this claims them like the Try it test. `pnpm test:docs:docker`; CI runs it in
// its container stage.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { claimDefaultPorts } from '../src/default-ports.ts';
import type { StepOutput } from '../src/readme.ts';
import { planSteps, readReadme, readmeShellLines } from '../src/readme.ts';
import { REPO_ROOT, runPlan } from '../src/readme-runner.ts';
import { DOCKER, DOCKER_HEADING, type DockerContext } from '../src/readme-walkthroughs.ts';
import { e2eTempDir } from '../src/temp-dir.ts';

const PROJECT = 'tributary-readme';

describe('README.md: Run it in Docker, as written', () => {
  let release: (() => void) | undefined;
  let work: { dir: string; cleanup: () => void } | undefined;
  // A fresh shell's environment, with the project name, and $TRIBUTARY_DATA_DIR in a temp dir so
  // that the CLI's default bootstrap cannot find a local cluster of the developer's instead.
  let env: NodeJS.ProcessEnv = {};

  const docker = (args: string[], timeoutMs = 120_000): Promise<StepOutput> =>
    new Promise((resolve) => {
      execFile('docker', args, { cwd: REPO_ROOT, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  const removeProject = () => docker(['compose', 'down', '-v', '--remove-orphans'], 180_000);

  afterAll(async () => {
    if (release) {
      const down = await removeProject();
      if (down.code !== 0) console.error(`docker compose down -v for ${PROJECT} failed:\n${down.stderr}`);
    }
    work?.cleanup();
    release?.();
  });

  it('runs every line of the block against a fresh compose project, each showing what the README says', async () => {
    const { steps, unmatched } = planSteps(readmeShellLines(readReadme(), DOCKER_HEADING), DOCKER);
    expect(unmatched, 'README.md "Run it in Docker" no longer has these commands (edit readme-walkthroughs.ts with the README)').toEqual([]);

    work = e2eTempDir('readme-docker');
    env = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TRIBUTARY_') && k !== 'COMPOSE_PROJECT_NAME' && k !== 'COMPOSE_FILE')),
      COMPOSE_PROJECT_NAME: PROJECT,
      TRIBUTARY_DATA_DIR: join(work.dir, '.tributary'),
    };
    const info = await docker(['info', '--format', '{{.ServerVersion}}'], 30_000);
    if (info.code !== 0) throw new Error(`the README's Docker block needs a Docker engine, and \`docker info\` fails:\n${info.stderr}`);
    const compose = await docker(['compose', 'version'], 30_000);
    if (compose.code !== 0) {
      throw new Error(
        "the README's Docker block uses Compose v2 (`docker compose`), and `docker compose version` fails. Install the compose plugin, " +
          `or with docker-compose 1.29 only, put .ci/bin first on PATH (its docker shim runs docker-compose): PATH=$PWD/.ci/bin:$PATH pnpm test:docs:docker\n${compose.stderr}`,
      );
    }
    console.log(`docker engine ${info.stdout.trim()}; ${compose.stdout.split('\n')[0]}; compose project ${PROJECT}`);

    release = await claimDefaultPorts('the README test (Run it in Docker)', async () => {
      const leftovers = await removeProject();
      if (leftovers.code !== 0) throw new Error(`could not remove an earlier run's compose project ${PROJECT}:\n${leftovers.stderr}`);
    });

    const ctx: DockerContext = { project: PROJECT, docker: (args) => docker(args) };
    await runPlan(steps, ctx, { env, defaultTimeoutMs: 120_000, log: (line) => console.log(line) });
  });
});
