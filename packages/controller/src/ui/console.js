// The Tributary console: renders the controller's view (GET /ui/events, Server-Sent Events) into
// the page's tables. Plain browser JavaScript, no build step, no dependencies. Data is inserted
// with textContent only, never as HTML. The server computes the view (console-view.ts); this
// file only draws it, so the rules are unit-tested on the server side.

'use strict';

const EVENTS_SHOWN_MAX = 200;

const state = {
  view: null,
  events: [],
  stats: null,
  topic: decodeURIComponent(location.hash.slice(1)) || new URLSearchParams(location.search).get('topic') || '',
  source: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') node.className = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function connect() {
  if (state.source) state.source.close();
  const url = state.topic ? `/ui/events?topic=${encodeURIComponent(state.topic)}` : '/ui/events';
  const source = new EventSource(url);
  state.source = source;
  source.addEventListener('open', () => setConnection('live: changes appear as they happen'));
  source.addEventListener('error', () => setConnection('connection lost: reconnecting…'));
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse(e.data);
    state.view = data.view;
    state.events = data.events;
    render();
  });
  source.addEventListener('update', (e) => {
    const data = JSON.parse(e.data);
    state.view = data.view;
    state.events.push(...data.events);
    if (state.events.length > EVENTS_SHOWN_MAX) state.events.splice(0, state.events.length - EVENTS_SHOWN_MAX);
    render();
  });
  source.addEventListener('stats', (e) => {
    const stats = JSON.parse(e.data);
    if (stats.topic !== state.topic) return;
    state.stats = stats;
    renderPartitions();
  });
}

function setConnection(text) {
  $('connection').textContent = `feed: ${text}`;
}

function currentTopic() {
  return state.view?.topics.find((t) => t.name === state.topic);
}

function render() {
  const view = state.view;
  if (!view) return;
  const brokers = view.racks.flatMap((r) => r.brokers);
  const alive = brokers.filter((b) => b.alive).length;
  $('cluster').textContent = `cluster ${view.clusterId} · metadata version ${view.version} · brokers ${alive}/${brokers.length} alive · ${view.topics.length} topic(s)`;
  renderBrokers(view);
  renderTopicSelect(view);
  renderTopic();
  renderEvents();
}

function renderBrokers(view) {
  const body = $('brokers').tBodies[0];
  const rows = [];
  for (const rack of view.racks) {
    rack.brokers.forEach((b, i) => {
      rows.push(el('tr', { className: b.alive ? 'alive' : 'fenced', 'data-broker': b.id },
        i === 0 ? el('th', { scope: 'rowgroup', rowspan: rack.brokers.length }, rack.rack) : null,
        el('th', { scope: 'row' }, `B${b.id}`),
        el('td', { className: 'state' }, b.alive ? 'alive' : 'fenced'),
        el('td', { className: 'num' }, `${b.leaderCount}`),
        el('td', { className: 'num' }, `${b.replicaCount}`),
        el('td', { className: 'num' }, `${b.epoch}`),
        el('td', null, b.address)));
    });
  }
  body.replaceChildren(...rows);
}

function renderTopicSelect(view) {
  const select = $('topic-select');
  if (!view.topics.some((t) => t.name === state.topic)) {
    const first = view.topics[0]?.name ?? '';
    if (first !== state.topic) {
      state.topic = first;
      state.stats = null;
      if (first) history.replaceState(null, '', `#${encodeURIComponent(first)}`);
      connect();
    }
  }
  const names = view.topics.map((t) => t.name);
  const current = [...select.options].map((o) => o.value);
  if (names.join('\n') !== current.join('\n')) {
    select.replaceChildren(...(names.length ? names.map((n) => el('option', { value: n }, n)) : [el('option', { value: '' }, '(no topics yet)')]));
  }
  select.value = state.topic;
}

function renderTopic() {
  const topic = currentTopic();
  const seedBody = $('seed-table').tBodies[0];
  if (!topic) {
    $('topic-summary').textContent = 'No topic yet: create one, e.g. tributary topics create demo --partitions 10 --replication-factor 3';
    $('seed-caption').textContent = 'Partitions each broker leads and follows';
    seedBody.replaceChildren();
    $('partitions').tBodies[0].replaceChildren();
    return;
  }
  const counts = { 'under-replicated': 0, 'under-min-isr': 0, offline: 0 };
  for (const p of topic.partitions) for (const s of p.status) if (s in counts) counts[s]++;
  $('topic-summary').textContent = `${topic.name}: ${topic.partitions.length} partitions, replication factor ${topic.replicationFactor}, min.insync.replicas ${topic.minInsyncReplicas} · under-replicated ${counts['under-replicated']} · under min ISR ${counts['under-min-isr']} · offline ${counts.offline}`;
  $('seed-caption').textContent = `Topic ${topic.name}: partitions each broker leads and follows (rows in rack-alternated order, as the seed's table)`;
  seedBody.replaceChildren(...topic.byBroker.map((row) => {
    const follows = [];
    row.follows.forEach((f, i) => {
      if (i > 0) follows.push(' ');
      follows.push(f.inIsr ? `P${f.partition}` : el('span', { className: 'out-of-sync' }, `P${f.partition} (out of sync)`));
    });
    return el('tr', { className: row.fenced ? 'fenced' : 'alive', 'data-broker': row.brokerId },
      el('th', { scope: 'row' }, row.label, row.fenced ? ' (fenced)' : ''),
      el('td', { 'data-col': 'leads' }, row.leads.map((p) => `P${p}`).join(' ') || '–'),
      el('td', { 'data-col': 'follows' }, follows.length ? follows : '–'));
  }));
  renderPartitions();
}

const STATUS_TEXT = { ok: 'ok', 'under-replicated': 'under-replicated', 'under-min-isr': 'under min ISR', offline: 'offline' };

function renderPartitions() {
  const topic = currentTopic();
  if (!topic) return;
  $('partitions-caption').textContent = `Partitions of ${topic.name}: leader, epoch, replicas, in-sync replicas, high watermark, follower lag and status`;
  const stats = state.stats?.topic === topic.name ? state.stats : null;
  $('partitions').tBodies[0].replaceChildren(...topic.partitions.map((p) => {
    const found = stats?.partitions.find((x) => x.partition === p.partition);
    // Numbers from a previous leader are not this leader's: wait for the next stats.
    const s = found?.leader === p.leader ? found : undefined;
    const hw = s?.highWatermark !== undefined ? String(s.highWatermark) : s?.error ? `n/a (${s.error})` : found ? 'n/a (asking the new leader)' : 'n/a';
    const lag = s?.lag
      ? s.lag.map((l) => `B${l.brokerId}: ${l.records}${l.records > 0 ? ` (${(l.msSinceCaughtUp / 1000).toFixed(1)} s)` : ''}`).join(', ') || '–'
      : 'n/a';
    return el('tr', { className: p.status.join(' '), 'data-partition': p.partition },
      el('th', { scope: 'row' }, `P${p.partition}`),
      el('td', { 'data-col': 'leader' }, p.leader < 0 ? 'none' : `B${p.leader}`),
      el('td', { className: 'num', 'data-col': 'epoch' }, `${p.leaderEpoch}`),
      el('td', { 'data-col': 'replicas' }, p.replicas.map((id) => `B${id}`).join(', ')),
      el('td', { 'data-col': 'isr' }, p.isr.map((id) => `B${id}`).join(', ')),
      el('td', { className: 'num', 'data-col': 'hw' }, hw),
      el('td', { 'data-col': 'lag' }, lag),
      el('td', { className: 'status', 'data-col': 'status' }, p.status.map((x) => STATUS_TEXT[x] ?? x).join(', ')));
  }));
}

function renderEvents() {
  const items = [...state.events].reverse().map((e) => {
    const time = new Date(e.timeMs);
    return el('li', { 'data-kind': e.kind },
      el('time', { datetime: time.toISOString() }, time.toLocaleTimeString([], { hour12: false }) + `.${String(time.getMilliseconds()).padStart(3, '0')}`),
      el('span', { className: 'kind' }, e.kind.replace(/-/g, ' ')),
      e.text);
  });
  $('events').replaceChildren(...(items.length ? items : [el('li', null, 'no events yet')]));
}

$('topic-select').addEventListener('change', (e) => {
  state.topic = e.target.value;
  state.stats = null;
  history.replaceState(null, '', `#${encodeURIComponent(state.topic)}`);
  renderTopic();
  connect();
});

connect();
