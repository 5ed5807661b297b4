// `tributary groups list | describe | reset-offsets | delete`: consumer groups, as Kafka's
// kafka-consumer-groups.sh shows and changes them.

import { GROUP_STATES, TributaryError, type GroupStateName } from '@tributary/protocol';
import type { GroupView, OffsetResetPlanEntry, OffsetResetSpec } from '@tributary/client';
import { UsageError, intArg, stringList, type Command } from '../command.ts';
import { renderTable } from '../table.ts';

export const groupsList: Command = {
  path: ['groups', 'list'],
  summary: 'list consumer groups with their state',
  usage: 'groups list [--state S]…',
  options: { state: { type: 'string', multiple: true, short: 's' } },
  flagHelp: [`-s, --state S   only groups in this state, repeatable (${GROUP_STATES.join(', ')})`],
  async run(ctx) {
    const states = stringList(ctx.values.state);
    for (const s of states) {
      if (!(GROUP_STATES as readonly string[]).includes(s)) throw new UsageError(`--state must be one of ${GROUP_STATES.join(', ')}, got '${s}'`, ctx.command);
    }
    const listed = await ctx.admin().listGroups(states.length > 0 ? { states: states as GroupStateName[] } : {});
    const groups = [...listed.groups].sort((a, b) => a.groupId.localeCompare(b.groupId));
    if (ctx.json) {
      ctx.io.out(
        JSON.stringify({
          groups: groups.map((g) => ({ groupId: g.groupId, state: g.state, protocolType: g.protocolType, coordinator: g.coordinator })),
          errors: listed.errors,
        }),
      );
    } else {
      if (groups.length === 0) ctx.io.out('no groups');
      else
        for (const line of renderTable(
          groups.map((g) => [g.groupId, g.state, g.protocolType, String(g.coordinator)]),
          { header: ['GROUP', 'STATE', 'PROTOCOL-TYPE', 'COORDINATOR'] },
        ))
          ctx.io.out(line);
      for (const e of listed.errors) ctx.io.err(`warning: broker ${e.brokerId} did not answer (${e.error.code}): its groups are missing`);
    }
    return listed.errors.length > 0 ? 1 : 0;
  },
};

export const groupsDescribe: Command = {
  path: ['groups', 'describe'],
  summary: "a group's state, members and their partitions, and per partition the committed offset, log end and lag",
  usage: 'groups describe GROUP',
  positionals: ['GROUP'],
  details: [
    'CURRENT-OFFSET is the offset the group will read next (its committed offset; - when none);',
    'LOG-END-OFFSET the high watermark; LAG the records between them.',
    '',
    'example: tributary groups describe my-group',
  ],
  async run(ctx) {
    const [groupId] = ctx.positionals as [string];
    const view = await ctx.admin().describeGroup(groupId);
    if (ctx.json) {
      ctx.io.out(JSON.stringify(groupJson(view)));
      return;
    }
    for (const line of describeGroupLines(view)) ctx.io.out(line);
  },
};

/** The --json form: the issue's fields (groupId, state, members, offsets) and a few more. */
export function groupJson(view: GroupView) {
  return {
    groupId: view.groupId,
    state: view.state,
    protocolType: view.protocolType,
    protocol: view.protocol,
    members: view.members.map((m) => ({
      memberId: m.memberId,
      ...(m.groupInstanceId !== undefined ? { groupInstanceId: m.groupInstanceId } : {}),
      clientId: m.clientId,
      clientHost: m.clientHost,
      assignment: m.assignment ?? [],
    })),
    offsets: view.offsets.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      committedOffset: o.committedOffset,
      logEndOffset: o.logEndOffset,
      lag: o.lag,
      memberId: o.memberId,
    })),
  };
}

const dash = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : String(n));

/** A summary line, the members table and the partitions table, as kafka-consumer-groups --describe. */
export function describeGroupLines(view: GroupView): string[] {
  const totalLag = view.offsets.reduce((n, o) => n + (o.lag ?? 0), 0);
  const lines = [
    `group ${view.groupId}  state ${view.state}  members ${view.members.length}${view.protocol ? `  assignor ${view.protocol}` : ''}  total-lag ${totalLag}`,
  ];
  if (view.members.length > 0) {
    lines.push('');
    lines.push(
      ...renderTable(
        view.members.map((m) => [m.memberId, m.clientId, m.clientHost, formatAssignment(m.assignment)]),
        { header: ['MEMBER-ID', 'CLIENT-ID', 'HOST', 'PARTITIONS'] },
      ),
    );
  }
  if (view.offsets.length > 0) {
    const clientOf = new Map(view.members.map((m) => [m.memberId, m.clientId]));
    lines.push('');
    lines.push(
      ...renderTable(
        view.offsets.map((o) => [
          o.topic,
          String(o.partition),
          dash(o.committedOffset),
          dash(o.logEndOffset),
          dash(o.lag),
          o.memberId === null ? '-' : `${clientOf.get(o.memberId) ?? ''} ${shortId(o.memberId)}`.trim(),
        ]),
        { header: ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'MEMBER'], alignRight: [1, 2, 3, 4] },
      ),
    );
  }
  return lines;
}

/** `demo:0,3,6 other:1`; '?' for bytes that are not a consumer assignment. */
export function formatAssignment(assignment: readonly { topic: string; partition: number }[] | null): string {
  if (assignment === null) return '?';
  if (assignment.length === 0) return '-';
  const byTopic = new Map<string, number[]>();
  for (const tp of assignment) {
    const list = byTopic.get(tp.topic) ?? [];
    byTopic.set(tp.topic, list);
    list.push(tp.partition);
  }
  return [...byTopic].map(([t, ps]) => `${t}:${ps.sort((a, b) => a - b).join(',')}`).join(' ');
}

/** A member id is `clientId-uuid`: the uuid's first block tells members apart. */
function shortId(memberId: string): string {
  const m = /-([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.exec(memberId);
  return m ? `(${m[1]})` : `(${memberId})`;
}

export const groupsResetOffsets: Command = {
  path: ['groups', 'reset-offsets'],
  summary: "move a group's committed offsets of a topic (only while the group has no members)",
  usage: 'groups reset-offsets GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-datetime ISO) [--partition N]… [--dry-run]',
  positionals: ['GROUP'],
  options: {
    topic: { type: 'string', short: 't' },
    'to-earliest': { type: 'boolean' },
    'to-latest': { type: 'boolean' },
    'to-offset': { type: 'string' },
    'to-datetime': { type: 'string' },
    partition: { type: 'string', multiple: true, short: 'p' },
    'dry-run': { type: 'boolean' },
  },
  flagHelp: [
    '-t, --topic T          the topic whose offsets move',
    "--to-earliest          to each partition's log start",
    "--to-latest            to each partition's log end (skip everything there now)",
    "--to-offset N          to offset N (clamped to each partition's range)",
    '--to-datetime ISO      to the first record at or after the time, e.g. 2026-01-31T12:00:00Z (the log end where none is)',
    '-p, --partition N      only this partition, repeatable (default: all)',
    '--dry-run              print the plan, change nothing',
  ],
  details: [
    "A group with members is refused (NON_EMPTY_GROUP), as Kafka's tool does: stop its consumers first.",
    '',
    'example: tributary groups reset-offsets my-group --topic demo --to-earliest',
  ],
  async run(ctx) {
    const [groupId] = ctx.positionals as [string];
    const command = ctx.command;
    const topic = ctx.values.topic;
    if (typeof topic !== 'string' || topic.length === 0) throw new UsageError('--topic is required', command);
    const specs: OffsetResetSpec[] = [];
    if (ctx.values['to-earliest']) specs.push({ kind: 'earliest' });
    if (ctx.values['to-latest']) specs.push({ kind: 'latest' });
    if (ctx.values['to-offset'] !== undefined) specs.push({ kind: 'offset', offset: intArg(ctx.values['to-offset'], '--to-offset', command, 0) });
    if (ctx.values['to-datetime'] !== undefined) {
      const text = String(ctx.values['to-datetime']);
      // An ISO 8601 date-time (a date alone is midnight UTC); Date.parse alone takes too much.
      const ms = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : Number.NaN;
      if (!Number.isFinite(ms) || ms < 0)
        throw new UsageError(`--to-datetime must be an ISO 8601 date-time such as 2026-01-31T12:00:00Z, got '${text}'`, command);
      specs.push({ kind: 'timestamp', timestampMs: ms });
    }
    if (specs.length !== 1) {
      throw new UsageError(
        specs.length === 0
          ? 'say where to move the offsets: --to-earliest, --to-latest, --to-offset N or --to-datetime ISO'
          : 'use one of --to-earliest, --to-latest, --to-offset, --to-datetime',
        command,
      );
    }
    const partitionFlags = stringList(ctx.values.partition);
    const partitions = partitionFlags.length > 0 ? partitionFlags.map((p) => intArg(p, '--partition', command, 0)) : undefined;
    const dryRun = ctx.values['dry-run'] === true;
    let plan: OffsetResetPlanEntry[];
    try {
      plan = await ctx.admin().resetGroupOffsets(groupId, topic, specs[0]!, { ...(partitions ? { partitions } : {}), dryRun });
    } catch (err) {
      if (err instanceof TributaryError && err.code === 'NON_EMPTY_GROUP')
        throw new TributaryError('NON_EMPTY_GROUP', `${err.message}; stop its consumers (or wait for their session to end) and try again`);
      throw err;
    }
    const failed = plan.filter((p) => p.error !== undefined);
    if (ctx.json) {
      ctx.io.out(
        JSON.stringify({
          groupId,
          dryRun,
          offsets: plan.map((p) => ({
            topic: p.topic,
            partition: p.partition,
            previousOffset: p.previousOffset < 0 ? null : p.previousOffset,
            committedOffset: p.newOffset,
            ...(p.error ? { error: p.error } : {}),
          })),
        }),
      );
    } else {
      for (const line of renderTable(
        plan.map((p) => [
          p.topic,
          String(p.partition),
          p.previousOffset < 0 ? '-' : String(p.previousOffset),
          String(p.newOffset),
          p.error ? p.error.code : '',
        ]),
        { header: ['TOPIC', 'PARTITION', 'PREVIOUS-OFFSET', 'NEW-OFFSET', ''], alignRight: [1, 2, 3] },
      ))
        ctx.io.out(line);
      if (dryRun) ctx.io.err('dry run: nothing was changed');
      else if (failed.length === 0) ctx.io.err(`reset ${plan.length} partition${plan.length === 1 ? '' : 's'} of ${topic} for group ${groupId}`);
      for (const f of failed) ctx.io.err(`error: ${f.topic}-${f.partition}: ${f.error!.code}: ${f.error!.message}`);
    }
    return failed.length > 0 ? 1 : 0;
  },
};

export const groupsDelete: Command = {
  path: ['groups', 'delete'],
  summary: 'delete a group with no members, and its committed offsets',
  usage: 'groups delete GROUP',
  positionals: ['GROUP'],
  async run(ctx) {
    const [groupId] = ctx.positionals as [string];
    const [result] = await ctx.admin().deleteGroups([groupId]);
    if (result?.error !== undefined) {
      const e = result.error;
      const hint = e.code === 'NON_EMPTY_GROUP' ? '; stop its consumers first' : '';
      throw new TributaryError(TributaryError.fromWire(e).code, `${e.message}${hint}`);
    }
    if (ctx.json) ctx.io.out(JSON.stringify({ groupId, deleted: true }));
    else ctx.io.out(`deleted group ${groupId}`);
  },
};

export const groupsCommands: readonly Command[] = [groupsList, groupsDescribe, groupsResetOffsets, groupsDelete];
