// The docker target: attaches to a running compose cluster (containers labelled
// `tributary.role` = controller | broker and `tributary.broker-id`) and injects faults with the
// docker CLI and tc from the host: `docker kill -s KILL` + `docker start`, `docker pause` +
// `unpause` (the cgroup freezer: SIGSTOP for a whole container), `docker network disconnect` +
// `connect` (with the same aliases) of a broker or a whole rack, congestion with tc on the
// container's host-side veth (netem delay and rate; this kernel may lack netem, then tbf rate),
// and diskloss: a stopped broker's named volume emptied by a throwaway container of the broker's
// own image (nothing is pulled).

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TopicDescription } from '@tributary/client';
import { DEFAULT_BROKER_BASE_PORT, DEFAULT_CONTROLLER_PORT, listenerRoutes } from '@tributary/protocol';
import { startGarbage, type AbuseTarget } from './abuse.ts';
import type { FaultOp } from './history.ts';
import { delay, partitionsOf, resolveRole, type Nemesis } from './nemesis.ts';
import type { ScheduledFault } from './schedule.ts';
import { injectSequence, type BrokerControl } from './sequences.ts';

const run = promisify(execFile);

async function sh(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 60_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

export interface DockerContainer {
  id: string;
  name: string;
  role: 'controller' | 'broker';
  brokerId?: number;
  rack?: string;
  /** host:port published on the host (a broker's external listener, the controller's API). */
  hostEndpoint?: string;
}

export interface DockerCluster {
  project: string;
  controller: DockerContainer;
  brokers: DockerContainer[];
  bootstrap: string[];
}

/** Finds the compose cluster's containers by their labels (one project, or the one named). */
export async function discoverDockerCluster(project?: string): Promise<DockerCluster> {
  const format =
    '{{.ID}}\t{{.Names}}\t{{.Label "tributary.role"}}\t{{.Label "tributary.broker-id"}}\t{{.Label "tributary.rack"}}\t{{.Label "com.docker.compose.project"}}';
  const out = await sh('docker', ['ps', '-a', '--filter', 'label=tributary.role', '--format', format]);
  const rows = out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const projects = [...new Set(rows.map((r) => r[5] ?? ''))];
  const chosen = project ?? (projects.length === 1 ? projects[0] : undefined);
  if (chosen === undefined) {
    throw new Error(
      projects.length === 0
        ? 'no Tributary containers found (labelled tributary.role); start the cluster with docker compose up -d'
        : `several compose projects run Tributary (${projects.join(', ')}); set TRIBUTARY_CHAOS_PROJECT`,
    );
  }
  // Other labelled containers (the one-shot `init`) are neither faulted nor healed.
  const mine = rows.filter((r) => (r[5] ?? '') === chosen && (r[2] === 'broker' || r[2] === 'controller'));
  const containers: DockerContainer[] = mine.map(([id, name, role, brokerId, rack]) => ({
    id: id!,
    name: name!,
    role: role === 'controller' ? 'controller' : 'broker',
    ...(brokerId ? { brokerId: Number(brokerId) } : {}),
    ...(rack ? { rack } : {}),
  }));
  const controller = containers.find((c) => c.role === 'controller');
  const brokers = containers.filter((c) => c.role === 'broker').sort((a, b) => (a.brokerId ?? 0) - (b.brokerId ?? 0));
  if (!controller || brokers.length === 0) throw new Error(`compose project ${chosen} lacks a controller or brokers`);
  for (const c of [...brokers, controller]) {
    const ports = await sh('docker', ['port', c.id]).catch(() => '');
    const m = /->\s*([\d.]+):(\d+)/.exec(ports);
    const fallback = c.role === 'controller' ? DEFAULT_CONTROLLER_PORT : DEFAULT_BROKER_BASE_PORT + (c.brokerId ?? 0);
    c.hostEndpoint = m ? `${m[1] === '0.0.0.0' ? '127.0.0.1' : m[1]}:${m[2]}` : `127.0.0.1:${fallback}`;
  }
  return { project: chosen, controller, brokers, bootstrap: brokers.map((b) => b.hostEndpoint!) };
}

interface Detached {
  network: string;
  aliases: string[];
}

export class DockerNemesis implements Nemesis {
  private readonly cluster: DockerCluster;
  private readonly heals = new Map<number, () => Promise<void>>();
  private readonly detached = new Map<string, Detached[]>();
  /** Host-side devices given a qdisc, per container. */
  private readonly congestedDevs = new Map<string, string[]>();
  /** Containers stopped with SIGSTOP (the freezer failed). */
  private readonly stopped = new Set<string>();

  constructor(cluster: DockerCluster) {
    this.cluster = cluster;
  }

  private broker(id: number): DockerContainer {
    const b = this.cluster.brokers.find((x) => x.brokerId === id);
    if (!b) throw new Error(`no container for broker ${id}`);
    return b;
  }

  /** docker kill / start / pause and the volume wipe, for faults made of steps. */
  private control(): BrokerControl {
    return {
      name: (b) => this.broker(b).name,
      kill: async (b) => {
        const c = this.broker(b);
        await sh('docker', ['kill', '-s', 'KILL', c.id]);
        // A container stopped by SIGSTOP and then killed has nothing left to continue.
        this.stopped.delete(c.id);
      },
      start: (b) => this.start(this.broker(b)),
      pause: (b) => this.pause(this.broker(b)),
      wipe: (b) => this.wipe(this.broker(b)),
    };
  }

  async inject(fault: ScheduledFault, topic: TopicDescription, nowMs: number, describe: () => Promise<TopicDescription>): Promise<FaultOp> {
    const all = topic.partitions.map((p) => p.partition);
    const entry = (name: string, targets: DockerContainer[], partitions: number[], note?: string): FaultOp => ({
      kind: 'fault',
      id: fault.id,
      fault: name,
      targets: targets.map((t) => t.name),
      startMs: nowMs,
      partitions,
      ...(note ? { note } : {}),
    });
    const ids = (cs: DockerContainer[]) => cs.map((c) => c.brokerId!).filter((x) => x !== undefined);
    let op: FaultOp;
    switch (fault.action) {
      case 'kill':
      case 'pause':
      case 'congest': {
        const b = this.broker(resolveRole(topic, fault.partition, fault.role, fault.id));
        const name = fault.action === 'pause' && fault.long ? 'pause-long' : fault.action;
        op = entry(name, [b], partitionsOf(topic, ids([b])), `${fault.role} of partition ${fault.partition}`);
        op.startMs = Date.now();
        if (fault.action === 'kill') {
          await sh('docker', ['kill', '-s', 'KILL', b.id]);
          this.heals.set(fault.id, () => this.start(b));
        } else if (fault.action === 'pause') {
          const resume = await this.pause(b);
          this.heals.set(fault.id, resume);
        } else {
          const how = await this.congest(b);
          op.note = `${op.note}; ${how}`;
          this.heals.set(fault.id, () => this.uncongest(b));
        }
        break;
      }
      case 'controller': {
        const c = this.cluster.controller;
        op = entry('controller', [c], all);
        op.startMs = Date.now();
        await sh('docker', ['kill', '-s', 'KILL', c.id]);
        this.heals.set(fault.id, () => this.start(c));
        break;
      }
      case 'partition': {
        const b = this.broker(resolveRole(topic, fault.partition, fault.role, fault.id));
        const targets = fault.wholeRack ? this.cluster.brokers.filter((x) => x.rack === b.rack) : [b];
        op = entry(
          fault.wholeRack ? 'partition-rack' : 'partition',
          targets,
          partitionsOf(topic, ids(targets)),
          `${fault.wholeRack ? `rack ${b.rack} of ` : ''}the ${fault.role} of partition ${fault.partition}`,
        );
        op.startMs = Date.now();
        for (const t of targets) await this.disconnect(t);
        this.heals.set(fault.id, async () => {
          for (const t of targets) await this.reconnect(t);
        });
        break;
      }
      case 'garbage': {
        // From the host, through the published ports: every route each process serves there.
        const containers = [this.cluster.controller, ...this.cluster.brokers];
        const targets: AbuseTarget[] = containers.map((c) => {
          const [host, port] = c.hostEndpoint!.split(':');
          return { name: c.name, host: host!, port: Number(port), routes: listenerRoutes(c.role === 'controller' ? 'controller' : 'broker', 'external') };
        });
        op = entry('garbage', containers, all, 'abusive requests to random routes of random processes');
        op.startMs = Date.now();
        const garbage = startGarbage(targets, fault.id + 1);
        const recorded = op;
        this.heals.set(fault.id, async () => {
          recorded.note = await garbage.stop();
        });
        break;
      }
      case 'diskloss':
      case 'compound': {
        const sequence = await injectSequence(fault, topic, { control: this.control(), describe, sleep: delay, now: Date.now });
        this.heals.set(fault.id, sequence.heal);
        op = sequence.op;
        break;
      }
      case 'majority': {
        const leader = this.broker(resolveRole(topic, fault.partition, 'leader', 0));
        const follower = this.broker(resolveRole(topic, fault.partition, 'follower', fault.id));
        const targets = leader === follower ? [leader] : [leader, follower];
        op = entry(`majority-${fault.how}`, targets, partitionsOf(topic, ids(targets)), `leader and a follower of partition ${fault.partition}`);
        op.startMs = Date.now();
        const resumes: (() => Promise<void>)[] = [];
        for (const t of targets) {
          if (fault.how === 'kill') await sh('docker', ['kill', '-s', 'KILL', t.id]);
          else resumes.push(await this.pause(t));
        }
        this.heals.set(fault.id, async () => {
          if (fault.how === 'pause') for (const resume of resumes) await resume();
          else for (const t of targets) await this.start(t);
        });
        break;
      }
    }
    return op;
  }

  async heal(op: FaultOp): Promise<void> {
    const heal = this.heals.get(op.id);
    if (!heal) return;
    this.heals.delete(op.id);
    await heal();
  }

  async healAll(): Promise<string[]> {
    const done: string[] = [];
    for (const heal of this.heals.values()) await heal().catch(() => undefined);
    this.heals.clear();
    for (const name of [...this.detached.keys()]) {
      const c = [...this.cluster.brokers, this.cluster.controller].find((x) => x.id === name)!;
      await this.reconnect(c).catch(() => undefined);
      done.push(`reconnected ${c.name}`);
    }
    for (const c of [...this.cluster.brokers, this.cluster.controller]) {
      if (this.congestedDevs.has(c.id)) {
        await this.uncongest(c).catch(() => undefined);
        done.push(`uncongested ${c.name}`);
      }
      if (this.stopped.has(c.id)) {
        await sh('docker', ['kill', '-s', 'CONT', c.id]).catch(() => undefined);
        this.stopped.delete(c.id);
        done.push(`continued ${c.name}`);
      }
      const state = await sh('docker', ['inspect', '-f', '{{.State.Status}}', c.id]).catch(() => 'unknown');
      if (state === 'paused') {
        await sh('docker', ['unpause', c.id]);
        done.push(`unpaused ${c.name}`);
      } else if (state === 'exited' || state === 'created') {
        await this.start(c);
        done.push(`started ${c.name}`);
      }
    }
    return done;
  }

  /** `running` for a running container whose health check passes (or that has none), else its state and health. */
  async processes(): Promise<{ name: string; status: string }[]> {
    return Promise.all(
      [this.cluster.controller, ...this.cluster.brokers].map(async (c) => {
        const out = await sh('docker', ['inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', c.id]).catch(
          (err: Error) => `unknown (${err.message})`,
        );
        const [state, health] = out.split(' ');
        const ok = state === 'running' && (health === undefined || health === '' || health === 'healthy');
        return { name: c.name, status: ok ? 'running' : out };
      }),
    );
  }

  /**
   * docker pause (the cgroup freezer); where the freezer fails ("unable to freeze", seen under
   * load), SIGSTOP to the container's process instead. Returns the matching resume.
   */
  private async pause(c: DockerContainer): Promise<() => Promise<void>> {
    try {
      await sh('docker', ['pause', c.id]);
      return async () => void (await sh('docker', ['unpause', c.id]));
    } catch {
      await sh('docker', ['kill', '-s', 'STOP', c.id]);
      this.stopped.add(c.id);
      return async () => {
        await sh('docker', ['kill', '-s', 'CONT', c.id]);
        this.stopped.delete(c.id);
      };
    }
  }

  /** docker start, then wait until the container's health check passes (or 60 s). */
  private async start(c: DockerContainer): Promise<void> {
    await sh('docker', ['start', c.id]);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const health = await sh('docker', ['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', c.id]).catch(
        () => '',
      );
      if (health === 'healthy' || health === 'running') return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${c.name} not healthy 60 s after docker start`);
  }

  /**
   * Empties a stopped container's named volumes (its data dir): a throwaway container of the same
   * image, as root, with the volume mounted, deletes everything in it. Refuses a running one.
   */
  private async wipe(c: DockerContainer): Promise<string> {
    const state = await sh('docker', ['inspect', '-f', '{{.State.Status}}', c.id]);
    if (state === 'running' || state === 'paused') throw new Error(`${c.name} is ${state}; stop it before emptying its volume`);
    const mounts = JSON.parse(await sh('docker', ['inspect', '-f', '{{json .Mounts}}', c.id])) as { Type?: string; Name?: string; Destination?: string }[];
    const volumes = mounts.filter((m) => m.Type === 'volume' && m.Name);
    if (volumes.length === 0) throw new Error(`${c.name} has no named volume to empty`);
    const image = await sh('docker', ['inspect', '-f', '{{.Image}}', c.id]);
    for (const v of volumes) {
      await sh('docker', [
        'run',
        '--rm',
        '--network',
        'none',
        '--user',
        '0',
        '--entrypoint',
        'sh',
        '-v',
        `${v.Name}:/wipe`,
        image,
        '-c',
        'find /wipe -mindepth 1 -delete',
      ]);
    }
    return volumes.map((v) => `volume ${v.Name} (${v.Destination})`).join(', ');
  }

  private async disconnect(c: DockerContainer): Promise<void> {
    const json = await sh('docker', ['inspect', '-f', '{{json .NetworkSettings.Networks}}', c.id]);
    const networks = JSON.parse(json) as Record<string, { Aliases?: string[] | null; DNSNames?: string[] | null }>;
    const saved: Detached[] = [];
    for (const [network, info] of Object.entries(networks)) {
      const aliases = (info.Aliases ?? []).filter((a) => !c.id.startsWith(a) && a !== c.id);
      saved.push({ network, aliases });
      await sh('docker', ['network', 'disconnect', '--force', network, c.id]);
    }
    this.detached.set(c.id, saved);
  }

  private async reconnect(c: DockerContainer): Promise<void> {
    const saved = this.detached.get(c.id) ?? [];
    for (const d of saved) {
      const args = ['network', 'connect'];
      for (const a of d.aliases) args.push('--alias', a);
      await sh('docker', [...args, d.network, c.id]);
    }
    this.detached.delete(c.id);
  }

  /**
   * The host sides of the container's veths: the links whose index is an interface's iflink
   * (eth0 normally; after a network disconnect + connect the interface may be eth1).
   */
  private async hostVeths(c: DockerContainer): Promise<string[]> {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, for sh, not a template
    const out = await sh('docker', ['exec', c.id, 'sh', '-c', 'for i in /sys/class/net/*; do [ "${i##*/}" = lo ] || cat "$i/iflink"; done']);
    const iflinks = new Set(
      out
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    );
    const links = await sh('ip', ['-o', 'link']);
    const devs: string[] = [];
    for (const line of links.split('\n')) {
      const [index, rest] = line.split(': ');
      if (index !== undefined && iflinks.has(index) && rest) devs.push(rest.split('@')[0]!);
    }
    if (devs.length === 0) throw new Error(`no host-side veth for ${c.name} (iflinks ${[...iflinks].join(', ') || 'none'})`);
    return devs;
  }

  private async congest(c: DockerContainer): Promise<string> {
    const devs = await this.hostVeths(c);
    this.congestedDevs.set(c.id, devs);
    const how: string[] = [];
    for (const dev of devs) {
      try {
        await sh('tc', ['qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', '300ms', 'rate', '1mbit', 'limit', '50']);
        how.push(`tc netem delay 300ms rate 1mbit on ${dev}`);
      } catch {
        await sh('tc', ['qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', '1mbit', 'burst', '32kbit', 'latency', '300ms']);
        how.push(`tc tbf rate 1mbit on ${dev} (no netem in this kernel)`);
      }
    }
    return how.join(', ');
  }

  private async uncongest(c: DockerContainer): Promise<void> {
    for (const dev of this.congestedDevs.get(c.id) ?? []) await sh('tc', ['qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined);
    this.congestedDevs.delete(c.id);
  }
}
