// The nemesis: applies a schedule's faults to a cluster and heals them. The local target acts on
// the launcher's processes (kill -9, SIGSTOP/SIGCONT, restart with the same data — or with none,
// after diskloss deletes a broker's data dir), exactly as `tributary local kill|pause|resume|
// restart` do. Targets named by role ("the leader of partition 4") are resolved against the
// metadata when the fault fires; faults made of steps run through sequences.ts.

import type { TopicDescription } from '@tributary/client';
import { localKill, localPause, localRestart, localResume, localStatus, localWipe } from '@tributary/launcher';
import { localAbuseTargets, startGarbage } from './abuse.ts';
import type { FaultOp } from './history.ts';
import type { ScheduledFault } from './schedule.ts';
import { injectSequence, type BrokerControl } from './sequences.ts';
import { partitionsOf, resolveRole } from './targets.ts';

export interface Nemesis {
  /**
   * Injects a fault; the returned entry names the processes hit and the partitions affected. A
   * fault made of steps returns once its steps have run, asking `describe` for fresh metadata
   * between them.
   */
  inject(fault: ScheduledFault, topic: TopicDescription, nowMs: number, describe: () => Promise<TopicDescription>): Promise<FaultOp>;
  /** Heals one fault (restart what was killed, resume what was paused). */
  heal(op: FaultOp): Promise<void>;
  /** Heals everything, whatever the schedule did: every paused process resumed, every stopped one restarted. */
  healAll(): Promise<string[]>;
  /** Every process of the cluster and its state: `running`, or what else it is (`paused`, `stopped`, …). */
  processes(): Promise<{ name: string; status: string }[]>;
}

export { partitionsOf, resolveRole } from './targets.ts';

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface LocalAction {
  heal: () => Promise<void>;
}

export class LocalNemesis implements Nemesis {
  private readonly dataDir: string;
  private readonly actions = new Map<number, LocalAction>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  /** The launcher's kill -9, restart, SIGSTOP/SIGCONT and data-dir deletion, for faults made of steps. */
  private control(): BrokerControl {
    const dir = this.dataDir;
    return {
      name: (b) => `broker-${b}`,
      kill: async (b) => void (await localKill(dir, String(b))),
      start: async (b) => void (await localRestart(dir, String(b), { kill: true, readyTimeoutMs: 60_000 })),
      pause: async (b) => {
        await localPause(dir, String(b));
        return async () => void (await localResume(dir, String(b)));
      },
      wipe: async (b) => localWipe(dir, String(b)),
    };
  }

  async inject(fault: ScheduledFault, topic: TopicDescription, nowMs: number, describe: () => Promise<TopicDescription>): Promise<FaultOp> {
    const dir = this.dataDir;
    const all = topic.partitions.map((p) => p.partition);
    const op = (fault: string, targets: string[], partitions: number[], note?: string): FaultOp => ({
      kind: 'fault',
      id: -1,
      fault,
      targets,
      startMs: nowMs,
      partitions,
      ...(note ? { note } : {}),
    });
    let entry: FaultOp;
    switch (fault.action) {
      case 'kill': {
        const broker = resolveRole(topic, fault.partition, fault.role, fault.id);
        entry = op('kill', [`broker-${broker}`], partitionsOf(topic, [broker]), `${fault.role} of partition ${fault.partition}`);
        entry.startMs = Date.now();
        await localKill(dir, String(broker));
        this.actions.set(fault.id, { heal: async () => void (await localRestart(dir, String(broker), { kill: true, readyTimeoutMs: 60_000 })) });
        break;
      }
      case 'pause': {
        const broker = resolveRole(topic, fault.partition, fault.role, fault.id);
        entry = op(fault.long ? 'pause-long' : 'pause', [`broker-${broker}`], partitionsOf(topic, [broker]), `${fault.role} of partition ${fault.partition}`);
        entry.startMs = Date.now();
        await localPause(dir, String(broker));
        this.actions.set(fault.id, { heal: async () => void (await localResume(dir, String(broker))) });
        break;
      }
      case 'controller': {
        entry = op('controller', ['controller'], all);
        entry.startMs = Date.now();
        await localKill(dir, 'controller');
        this.actions.set(fault.id, { heal: async () => void (await localRestart(dir, 'controller', { kill: true, readyTimeoutMs: 60_000 })) });
        break;
      }
      case 'majority': {
        const leader = resolveRole(topic, fault.partition, 'leader', 0);
        const follower = resolveRole(topic, fault.partition, 'follower', fault.id);
        const brokers = leader === follower ? [leader] : [leader, follower];
        entry = op(
          `majority-${fault.how}`,
          brokers.map((b) => `broker-${b}`),
          partitionsOf(topic, brokers),
          `leader and a follower of partition ${fault.partition}`,
        );
        entry.startMs = Date.now();
        if (fault.how === 'kill') {
          for (const b of brokers) await localKill(dir, String(b));
          this.actions.set(fault.id, {
            heal: async () => void (await Promise.all(brokers.map((b) => localRestart(dir, String(b), { kill: true, readyTimeoutMs: 60_000 })))),
          });
        } else {
          for (const b of brokers) await localPause(dir, String(b));
          this.actions.set(fault.id, { heal: async () => void (await Promise.all(brokers.map((b) => localResume(dir, String(b))))) });
        }
        break;
      }
      case 'garbage': {
        const targets = localAbuseTargets(dir);
        entry = op(
          'garbage',
          targets.map((t) => t.name),
          all,
          'abusive requests to random routes of random processes',
        );
        entry.startMs = Date.now();
        const garbage = startGarbage(targets, fault.id + 1);
        const recorded = entry;
        this.actions.set(fault.id, {
          heal: async () => {
            recorded.note = await garbage.stop();
          },
        });
        break;
      }
      case 'diskloss':
      case 'compound': {
        const sequence = await injectSequence(fault, topic, { control: this.control(), describe, sleep: delay, now: Date.now });
        this.actions.set(fault.id, { heal: sequence.heal });
        entry = sequence.op;
        break;
      }
      case 'partition':
      case 'congest':
        throw new Error(`fault '${fault.action}' needs --target docker`);
    }
    entry.id = fault.id;
    return entry;
  }

  async heal(op: FaultOp): Promise<void> {
    const action = this.actions.get(op.id);
    if (!action) return;
    this.actions.delete(op.id);
    await action.heal();
  }

  async processes(): Promise<{ name: string; status: string }[]> {
    return localStatus(this.dataDir).processes.map((p) => ({ name: p.name, status: p.status }));
  }

  async healAll(): Promise<string[]> {
    const done: string[] = [];
    for (const action of this.actions.values()) await action.heal().catch(() => undefined);
    this.actions.clear();
    const status = localStatus(this.dataDir);
    for (const p of status.processes) {
      const target = p.name === 'controller' ? 'controller' : p.name.slice('broker-'.length);
      if (p.status === 'paused') {
        await localResume(this.dataDir, target);
        done.push(`resumed ${p.name}`);
      } else if (p.status === 'stopped') {
        await localRestart(this.dataDir, target, { kill: true, readyTimeoutMs: 60_000 });
        done.push(`restarted ${p.name}`);
      }
    }
    return done;
  }
}
