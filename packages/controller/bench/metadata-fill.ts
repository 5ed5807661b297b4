// Fills a stopped controller's metadata log with N more records, as a long-lived cluster would
// have written them: topic config changes (one TopicConfig record each) on a topic of its own,
// with snapshots written along the way every 20,000 records as a running controller writes them
// (unless --snapshots off: a controller without snapshots, for a before/after comparison). `pnpm bench --only controller-restart` runs it between stopping and
// restarting the cluster's controller, and times the restart.
//
//   node packages/controller/bench/metadata-fill.ts --data-dir DIR --records N [--snapshots on|off]

import { pino } from 'pino';
import { ClusterController } from '../src/cluster-controller.ts';
import { SnapshotStore, snapshotOf } from '../src/metadata-snapshot.ts';
import type { MetadataRecord } from '../src/records.ts';
import { metadataLogDir, metadataSnapshotDir } from '../src/start.ts';
import { openMetadataLog } from '../src/segment-metadata-log.ts';

function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const dataDir = flag('data-dir');
const records = Number(flag('records') ?? '1000000');
const snapshots = (flag('snapshots') ?? 'on') === 'on';
if (dataDir === undefined || !Number.isSafeInteger(records) || records < 1) {
  process.stderr.write('usage: metadata-fill.ts --data-dir DIR --records N [--snapshots on|off]\n');
  process.exit(2);
}
const logger = pino({ level: 'warn' });
const started = performance.now();
const INTERVAL = 20_000;
const BATCH = 1000;
// A topic of its own, created through the controller (a real topic id, placed as usual).
const controller = new ClusterController({
  log: openMetadataLog(metadataLogDir(dataDir), logger),
  logger,
  sessionTimeoutMs: 3000,
  autoLeaderRebalanceEnable: false,
  ...(snapshots ? { snapshots: new SnapshotStore(metadataSnapshotDir(dataDir)), snapshotIntervalRecords: INTERVAL } : {}),
});
const topic = `metadata-fill-${Date.now().toString(36)}`;
if (controller.state.liveBrokers().length === 0) {
  // An empty data dir (trying the script alone): one broker to place the topic on.
  const endpoint = { host: '127.0.0.1', port: 1 };
  controller.registerBroker({ brokerId: 0, rack: 'r', incarnationId: 'fill', internal: endpoint, external: endpoint, logDirId: 'fill', clusterId: '' });
}
const live = controller.state.liveBrokers().length;
controller.createTopic({ name: topic, partitions: 1, replicationFactor: Math.max(1, Math.min(3, live)) });
const state = controller.state;
const topicId = state.topics.get(topic)!.topicId;
controller.close();
// The rest appended in batches (a live controller appends one decision per fsync; the bench does
// not wait for a million fsyncs), with snapshots every INTERVAL records as the controller takes them.
const log = openMetadataLog(metadataLogDir(dataDir), logger);
const store = snapshots ? new SnapshotStore(metadataSnapshotDir(dataDir)) : undefined;
let lastSnapshot = store?.versions()[0] ?? 0;
for (let written = 1; written < records; ) {
  const batch: MetadataRecord[] = [];
  for (; batch.length < BATCH && written < records; written++) {
    batch.push({ type: 'TopicConfig', topic, topicId, configs: { ...state.topics.get(topic)!.configs, 'retention.ms': 3_600_000 + (written % 1000) } });
  }
  log.append(batch);
  for (const r of batch) state.apply(r);
  if (store !== undefined && state.version - lastSnapshot >= INTERVAL) {
    const kept = store.write(snapshotOf(state));
    log.truncateBefore(Math.min(...kept));
    lastSnapshot = state.version;
  }
}
const version = state.version;
log.close();
process.stdout.write(`${JSON.stringify({ records, version, seconds: (performance.now() - started) / 1000, snapshots })}\n`);
