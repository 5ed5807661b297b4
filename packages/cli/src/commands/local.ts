// `tributary local …`: the embedded local cluster (controller + six brokers in two racks as
// separate processes on 127.0.0.1). `pnpm start` is `tributary local up`.

import { join } from 'node:path';

import { Admin, TributaryError } from '@tributary/client';
import {
  LocalClusterError,
  localAddBroker,
  localDown,
  localKill,
  localPause,
  localRestart,
  localResume,
  localStatus,
  localUp,
  secretsDir,
  waitForClusterStop,
  type LocalCluster,
  type ProcessName,
} from '@tributary/launcher';
import { defaultBootstrap, localDataDir } from '../bootstrap.ts';
import { clientSecurity } from '../client-security.ts';
import { byBrokerView, renderByBroker } from '../by-broker.ts';
import { UsageError, optionalIntArg, type Command, type CommandContext } from '../command.ts';
import { formatLogLine } from '../log-view.ts';
import { renderTable } from '../table.ts';

const DATA_DIR_FLAG = { 'data-dir': { type: 'string' as const } };
const DATA_DIR_HELP = '--data-dir DIR     where the cluster keeps data, logs and pids (default $TRIBUTARY_DATA_DIR, else ./.tributary)';

/** The demo topic `local up` creates: the seed's 10 partitions, RF 3, min ISR 2. */
export const DEMO_TOPIC = { name: 'demo', partitions: 10, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } };

function dataDirOf(ctx: CommandContext): string {
  const value = ctx.values['data-dir'];
  return localDataDir(ctx.io.env ?? process.env, typeof value === 'string' ? value : undefined);
}

/** Launcher failures are operating errors with a clear message, not crashes. */
async function launcherCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LocalClusterError) throw new Error(err.message);
    throw err;
  }
}

async function printByBroker(ctx: CommandContext, admin: Admin, topic: string): Promise<void> {
  const [cluster, description] = await Promise.all([admin.describeCluster(), admin.describeTopic(topic)]);
  const { cells, legend } = renderByBroker(byBrokerView(cluster, description));
  ctx.io.out(`topic ${topic}: brokers by rack, the partitions each leads and follows`);
  for (const line of renderTable(cells)) ctx.io.out(line);
  if (legend.length > 0) ctx.io.out(legend.join('; '));
}

const LOG_FORMATS = ['pretty', 'json'] as const;

const localUpCommand: Command = {
  path: ['local', 'up'],
  summary: 'start a local cluster: a controller and six brokers in two racks (pnpm start)',
  usage: 'local up [--detach] [--secure] [--data-dir DIR] [--base-port N] [--brokers N] [--log-format pretty|json] [--quiet]',
  usesCluster: false,
  options: {
    ...DATA_DIR_FLAG,
    detach: { type: 'boolean', short: 'd' },
    secure: { type: 'boolean' },
    'base-port': { type: 'string' },
    brokers: { type: 'string' },
    'log-format': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
  },
  flagHelp: [
    '-d, --detach          return once the cluster is ready; stop it with `tributary local down`',
    '--secure              TLS on every listener, brokers and controller authenticated by certificates, SCRAM',
    '                      users and ACLs; makes a CA, certificates and a super user admin with a random password',
    '                      under DIR/secrets (files 0600), which CLI commands on the same data dir then use',
    '--data-dir DIR        where the cluster keeps data, logs and pids (default $TRIBUTARY_DATA_DIR, else ./.tributary)',
    '--base-port N         controller on N, broker i on N+2+i (default 19090: brokers on 19092…19097)',
    '--brokers N           number of brokers, split over two racks (default 6)',
    "--log-format FORMAT   in the foreground, the processes' logs as short lines with the cluster's events",
    '                      marked * (pretty, the default) or as the JSON the log files hold (json)',
    "-q, --quiet           in the foreground, do not print the processes' logs",
  ],
  details: [
    'Creates topic demo (10 partitions, RF 3, min.insync.replicas=2) if it does not exist and prints its by-broker table.',
    'In the foreground, Ctrl-C stops the cluster; so does `tributary local down` from another terminal.',
    'Each process logs JSON to DIR/logs/<process>.log whatever the format shown.',
  ],
  async run(ctx) {
    const dataDir = dataDirOf(ctx);
    const basePort = optionalIntArg(ctx.values['base-port'], '--base-port', ctx.command, 1024);
    const brokers = optionalIntArg(ctx.values.brokers, '--brokers', ctx.command, 1);
    const logFormat = ctx.values['log-format'] ?? 'pretty';
    if (!LOG_FORMATS.includes(logFormat as (typeof LOG_FORMATS)[number])) {
      throw new UsageError(`--log-format must be ${LOG_FORMATS.join(' or ')}, got '${String(logFormat)}'`, ctx.command);
    }
    const detach = ctx.values.detach === true;
    const quiet = ctx.values.quiet === true || ctx.json;
    const env = ctx.io.env ?? process.env;
    const color = ctx.io.isTTY === true && !env.NO_COLOR;
    const onLog = quiet
      ? undefined
      : logFormat === 'json'
        ? (_name: ProcessName, line: string) => ctx.io.out(line)
        : (name: ProcessName, line: string) => ctx.io.out(formatLogLine(name, line, { color }));
    if (!ctx.json) ctx.io.out(`starting a controller and ${brokers ?? 6} brokers from ${dataDir} …`);
    const cluster = await launcherCall(() =>
      localUp({
        dataDir,
        ...(basePort !== undefined ? { basePort } : {}),
        ...(brokers !== undefined ? { brokers } : {}),
        mode: detach ? 'detach' : 'attach',
        onLog,
        ...(ctx.values.secure === true ? { secure: true } : {}),
      }),
    );
    try {
      return await foreground(ctx, dataDir, cluster, detach);
    } catch (err) {
      // A cluster in the foreground does not outlive a failure of this command.
      if (!detach) {
        await localDown(dataDir).catch(() => undefined);
        cluster.stopLogs();
      }
      throw err;
    }
  },
};

/** After `localUp`: the demo topic, the table, and in the foreground the wait for the end. */
async function foreground(ctx: CommandContext, dataDir: string, cluster: LocalCluster, detach: boolean): Promise<number> {
  const env = ctx.io.env ?? process.env;
  const bootstrap = cluster.state.layout.brokers.map((b) => `127.0.0.1:${b.port}`);
  const admin = new Admin({ bootstrap, ...clientSecurity(ctx.values, { ...env, TRIBUTARY_DATA_DIR: dataDir }) });
  if (cluster.state.secure === true && !ctx.json) {
    const dir = secretsDir(dataDir);
    ctx.io.out(`secure: TLS everywhere; CA ${join(dir, 'ca.pem')}; super user admin, password in ${join(dir, 'admin.password')} (files 0600)`);
    ctx.io.out(
      `  CLI commands on this data dir use them; other clients: --ca ${join(dir, 'ca.pem')} --user admin --password "$(cat ${join(dir, 'admin.password')})"`,
    );
  }
  ctx.onClose(() => admin.close());
  const rf = Math.min(DEMO_TOPIC.replicationFactor, cluster.state.layout.brokers.length);
  try {
    await admin.createTopic({ ...DEMO_TOPIC, replicationFactor: rf, configs: { 'min.insync.replicas': Math.min(2, rf) } });
  } catch (err) {
    if (!(err instanceof TributaryError && err.code === 'TOPIC_ALREADY_EXISTS')) throw err;
  }
  // The hint names the brokers only when the CLI would not find them by itself (bootstrap.ts):
  // a cluster in another data dir, or $TRIBUTARY_BOOTSTRAP pointing elsewhere.
  const cliFinds = (env.TRIBUTARY_BOOTSTRAP ?? defaultBootstrap(env).join(',')) === bootstrap.join(',');
  const bootstrapFlag = cliFinds ? '' : ` --bootstrap ${bootstrap.join(',')}`;
  if (ctx.json) {
    ctx.io.out(
      JSON.stringify({
        dataDir,
        controller: `127.0.0.1:${cluster.state.layout.controllerPort}`,
        bootstrap,
        processes: localStatus(dataDir).processes,
        ...(cluster.state.secure === true ? { secrets: secretsDir(dataDir) } : {}),
      }),
    );
  } else {
    ctx.io.out(`cluster ready: controller 127.0.0.1:${cluster.state.layout.controllerPort}, brokers ${bootstrap.join(' ')}`);
    await printByBroker(ctx, admin, DEMO_TOPIC.name);
  }
  if (detach) {
    if (!ctx.json) ctx.io.out(`running in the background; logs in ${dataDir}/logs; stop with: pnpm tributary local down${dataDirFlag(ctx, dataDir)}`);
    return 0;
  }
  if (!ctx.json) ctx.io.out(`Ctrl-C stops the cluster. In another terminal: pnpm tributary topics describe demo --by-broker${bootstrapFlag}`);
  // Stay in the foreground until Ctrl-C, or until the cluster is stopped from elsewhere
  // (`tributary local down` in another terminal): then there is nothing left to show.
  const cause = await waitForClusterStop(dataDir, ctx.io.signal ? { signal: ctx.io.signal } : {});
  if (cause === 'aborted') {
    if (!ctx.json) ctx.io.out('stopping the cluster …');
    await localDown(dataDir);
    cluster.stopLogs();
    if (!ctx.json) ctx.io.out('stopped');
    return 0;
  }
  // The last lines the processes wrote, then why the foreground ends.
  cluster.stopLogs();
  if (cause === 'down') {
    if (!ctx.json) ctx.io.out(`the cluster was stopped (tributary local down); data and logs stay in ${dataDir}`);
    return 0;
  }
  ctx.io.err(`error: every process of the cluster has exited, without 'tributary local down'; see the logs in ${join(dataDir, 'logs')}`);
  return 1;
}

/** `--data-dir DIR` when the data dir is not the one the CLI finds by itself. */
function dataDirFlag(ctx: CommandContext, dataDir: string): string {
  return dataDir === localDataDir(ctx.io.env ?? process.env) ? '' : ` --data-dir ${dataDir}`;
}

const localDownCommand: Command = {
  path: ['local', 'down'],
  summary: 'stop the local cluster (brokers gracefully, then the controller); data stays',
  usage: 'local down [--data-dir DIR]',
  usesCluster: false,
  options: DATA_DIR_FLAG,
  flagHelp: [DATA_DIR_HELP],
  async run(ctx) {
    const processes = await launcherCall(() => localDown(dataDirOf(ctx)));
    if (ctx.json) ctx.io.out(JSON.stringify({ processes }));
    else ctx.io.out(`stopped ${processes.length} processes`);
  },
};

const localStatusCommand: Command = {
  path: ['local', 'status'],
  summary: "show the local cluster's processes: pid, port, rack, running / paused / stopped",
  usage: 'local status [--data-dir DIR]',
  usesCluster: false,
  options: DATA_DIR_FLAG,
  flagHelp: [DATA_DIR_HELP],
  async run(ctx) {
    const status = await launcherCall(() => localStatus(dataDirOf(ctx)));
    if (ctx.json) {
      ctx.io.out(JSON.stringify(status));
      return;
    }
    const rows = [
      ['PROCESS', 'RACK', 'PORT', 'PID', 'STATUS'],
      ...status.processes.map((p) => [p.name, p.rack ?? '', String(p.port), String(p.pid), p.status]),
    ];
    for (const line of renderTable(rows)) ctx.io.out(line);
  },
};

const localAddBrokerCommand: Command = {
  path: ['local', 'add-broker'],
  summary: 'start one more broker in the running local cluster (the next id, in the rack with the fewest brokers or --rack)',
  usage: 'local add-broker [--rack RACK] [--data-dir DIR]',
  usesCluster: false,
  options: { ...DATA_DIR_FLAG, rack: { type: 'string', short: 'r' } },
  flagHelp: ['-r, --rack RACK    its rack (default: the rack with the fewest brokers, the first by name on a tie)', DATA_DIR_HELP],
  details: [
    'It holds nothing until a reassignment or a new topic places replicas on it:',
    '  tributary reassign generate --topics demo --brokers 0,1,2,3,4,5,6 > plan.json',
    '  tributary reassign execute plan.json --throttle 50000000',
    'The CLI finds it without --bootstrap (it is recorded with the cluster); `local up` starts it again next time.',
  ],
  async run(ctx) {
    const dataDir = dataDirOf(ctx);
    const rack = typeof ctx.values.rack === 'string' ? ctx.values.rack : undefined;
    const record = await launcherCall(() => localAddBroker(dataDir, rack === undefined ? {} : { rack }));
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ process: record.name, brokerId: record.brokerId, rack: record.rack, port: record.port, pid: record.pid }));
      return;
    }
    ctx.io.out(`started ${record.name} in ${record.rack} on 127.0.0.1:${record.port} (pid ${record.pid}); it holds no replica yet`);
    ctx.io.out(
      `give it some: pnpm tributary reassign generate --topics demo --brokers ${[...localStatus(dataDir).processes.flatMap((p) => (p.name.startsWith('broker-') ? [p.name.slice(7)] : []))].join(',')} > plan.json`,
    );
  },
};

/** kill / restart / pause / resume: one process, named by broker id or 'controller'. */
function processCommand(
  verb: 'kill' | 'restart' | 'pause' | 'resume',
  summary: string,
  act: (dataDir: string, target: string) => Promise<{ name: ProcessName; pid: number }>,
  done: string,
): Command {
  return {
    path: ['local', verb],
    summary,
    usage: `local ${verb} ID|controller [--data-dir DIR]`,
    usesCluster: false,
    positionals: ['ID|controller'],
    options: DATA_DIR_FLAG,
    flagHelp: [DATA_DIR_HELP],
    async run(ctx) {
      const [target] = ctx.positionals as [string];
      if (target !== 'controller' && !/^\d+$/.test(target)) throw new UsageError(`expected a broker id or 'controller', got '${target}'`, ctx.command);
      const record = await launcherCall(() => act(dataDirOf(ctx), target));
      if (ctx.json) ctx.io.out(JSON.stringify({ process: record.name, pid: record.pid, action: verb }));
      else ctx.io.out(`${record.name} ${done} (pid ${record.pid})`);
    },
  };
}

export const localCommands: readonly Command[] = [
  localUpCommand,
  localDownCommand,
  localStatusCommand,
  localAddBrokerCommand,
  processCommand('kill', 'kill -9 a broker or the controller (a crash: no goodbye)', localKill, 'killed'),
  processCommand('restart', 'restart a broker or the controller with its data (graceful stop first if running)', (dir, t) => localRestart(dir, t), 'restarted'),
  processCommand('pause', 'SIGSTOP a process: it stops answering, like a long GC pause or a hung host', localPause, 'paused'),
  processCommand('resume', 'SIGCONT a paused process', localResume, 'resumed'),
];
