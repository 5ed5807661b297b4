// `tributary cluster`: the controller and the brokers by rack, alive or fenced.

import type { Command } from '../command.ts';
import { rackAlternated } from '../by-broker.ts';
import { renderTable } from '../table.ts';

export const cluster: Command = {
  path: ['cluster'],
  summary: 'show the controller and the brokers by rack, alive or fenced',
  usage: 'cluster',
  async run(ctx) {
    const description = await ctx.admin().describeCluster();
    if (ctx.json) {
      ctx.io.out(JSON.stringify(description));
      return;
    }
    const controller = description.controller ? `${description.controller.host}:${description.controller.port}` : 'unknown';
    const alive = description.brokers.filter((b) => b.alive).length;
    ctx.io.out(`cluster ${description.clusterId}  controller ${controller}  brokers ${alive}/${description.brokers.length} alive`);
    const byRack = [...description.brokers].sort((a, b) => a.rack.localeCompare(b.rack) || a.id - b.id);
    const rows = byRack.map((b) => [b.rack, `B${b.id}`, `${b.host}:${b.port}`, b.alive ? 'alive' : 'fenced']);
    for (const line of renderTable(rows, { header: ['RACK', 'BROKER', 'ADDRESS', 'STATE'] })) ctx.io.out(line);
    const order = rackAlternated(description.brokers).map((b) => `B${b.id}`);
    if (order.length > 0) ctx.io.out(`placement order (rack-alternated): ${order.join(' ')}`);
  },
};
