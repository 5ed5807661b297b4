// The Tributary console: renders the controller's view (GET /ui/events, Server-Sent Events) into
// the page: the seed's picture (racks as boxes, brokers with their partitions), the bytes/s and
// event timeline charts (SVG), and the tables. Plain browser JavaScript, no build step, no
// dependencies. Data is inserted with textContent only, never as HTML. The server computes what
// goes where (console-view.ts, console-throughput.ts, console-timeline.ts); this file only maps
// it onto boxes and pixels, so the rules are unit-tested on the server side.

const EVENTS_SHOWN_MAX = 200;
const SVG_NS = 'http://www.w3.org/2000/svg';
// Okabe–Ito colours (distinct for common colour-vision deficiencies), by position in the seed's
// row order; every line and lane is also labelled, so colour only helps.
const BROKER_COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];
const MARK_GLYPHS = {
  leader: 'L',
  'isr-out': '−',
  'isr-in': '+',
  offline: '!',
  fenced: 'F',
  alive: 'R',
  'move-start': 'M',
  'move-done': '✓',
  'move-cancel': '×',
};
const MARK_WORDS = {
  leader: 'became leader',
  'isr-out': 'left an ISR',
  'isr-in': 'rejoined an ISR',
  offline: 'partition went offline',
  fenced: 'fenced',
  alive: 'registered or unfenced',
  'move-start': 'reassignment started',
  'move-done': 'reassignment completed',
  'move-cancel': 'reassignment cancelled',
};

const state = {
  view: null,
  events: [],
  stats: null,
  charts: null,
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

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function colourOf(brokerId) {
  const i = state.view?.order.indexOf(brokerId) ?? -1;
  return i < 0 ? '#777777' : BROKER_COLOURS[i % BROKER_COLOURS.length];
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
    state.charts = data.charts ?? null;
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
    // The copy progress of replicas being added is drawn on their brokers' cards.
    if (currentTopic()?.partitions.some((p) => p.addingReplicas.length > 0)) renderPicture();
  });
  source.addEventListener('charts', (e) => {
    const charts = JSON.parse(e.data);
    // A stream's charts follow its topic; one left over from the previous topic is not drawn.
    if ((charts.timeline.topic ?? '') !== state.topic) return;
    state.charts = charts;
    renderPicture();
    renderCharts();
    renderGroups();
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
  $('cluster').textContent =
    `cluster ${view.clusterId} · metadata version ${view.version} · brokers ${alive}/${brokers.length} alive · ${view.topics.length} topic(s)`;
  renderBrokers(view);
  renderTopicSelect(view);
  renderTopic();
  renderPicture();
  renderCharts();
  renderGroups();
  renderEvents();
}

/** The seed's picture: a box per rack, a card per broker with the partitions it leads and follows. */
function renderPicture() {
  const topic = currentTopic();
  const view = state.view;
  if (!view) return;
  $('cluster-box-title').textContent = topic ? `Tributary cluster · topic ${topic.name}` : 'Tributary cluster · no topic yet';
  // Without a topic, the racks still hold their brokers (from the broker list).
  const boxes = topic
    ? topic.rackBoxes
    : view.racks.map((r) => ({
        rack: r.rack,
        brokers: r.brokers.map((b) => ({ brokerId: b.id, rack: r.rack, label: `${r.rack}/B${b.id}`, fenced: !b.alive, leads: [], follows: [] })),
      }));
  const io = new Map((state.charts?.throughput.brokers ?? []).map((b) => [b.brokerId, b.latest]));
  const copies = copyProgressOf(topic);
  $('racks').replaceChildren(
    ...boxes.map((box) =>
      el(
        'section',
        { className: 'rack', 'data-rack': box.rack, 'aria-label': `rack ${box.rack}` },
        el('h3', null, box.rack),
        el(
          'div',
          { className: 'rack-brokers' },
          box.brokers.map((b) => brokerCard(b, io.get(b.brokerId), copies)),
        ),
      ),
    ),
  );
}

/** `partition/broker` -> the copy progress of a replica being added, from the latest stats of the current leader. */
function copyProgressOf(topic) {
  const out = new Map();
  const stats = state.stats?.topic === topic?.name ? state.stats : null;
  for (const s of stats?.partitions ?? []) {
    const p = topic.partitions.find((x) => x.partition === s.partition);
    if (p?.leader !== s.leader) continue;
    for (const c of s.copies ?? []) out.set(`${s.partition}/${c.brokerId}`, c);
  }
  return out;
}

function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let unit = 'B';
  for (const u of units) {
    if (v < 1000) break;
    v /= 1000;
    unit = u;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${unit}`;
}

/** A chip for a replica a reassignment is adding: dotted, filled as far as it has copied. */
function addingChip(partition, brokerId, copy) {
  const words = copy ? `${copy.percent.toFixed(1)}% copied (${formatBytes(copy.copiedBytes)} of ${formatBytes(copy.totalBytes)})` : 'copy progress unknown';
  return el(
    'span',
    {
      className: 'chip adding',
      'data-partition': partition,
      'data-progress': copy ? copy.percent : '',
      style: `--progress: ${copy ? copy.percent : 0}%`,
      title: `P${partition}: being added to B${brokerId} by a reassignment, ${words}`,
      'aria-label': `P${partition} being added, ${words}`,
    },
    `P${partition}+`,
    el('span', { className: 'chip-progress' }, copy ? ` ${Math.floor(copy.percent)}%` : ' ?'),
  );
}

function removingChip(partition, role) {
  return el(
    'span',
    {
      className: `chip ${role} removing`,
      'data-partition': partition,
      title: `P${partition}: ${role} being removed by a reassignment once the new replicas are in sync`,
      'aria-label': `P${partition} being removed`,
    },
    `P${partition}−`,
  );
}

function brokerCard(b, latest, copies = new Map()) {
  const adding = new Set(b.adding ?? []);
  const removing = new Set(b.removing ?? []);
  const follows = b.follows.map((f) =>
    adding.has(f.partition)
      ? addingChip(f.partition, b.brokerId, copies.get(`${f.partition}/${b.brokerId}`))
      : removing.has(f.partition)
        ? removingChip(f.partition, 'follower')
        : f.inIsr
          ? el('span', { className: 'chip follower', 'data-partition': f.partition, title: `P${f.partition}: follower in the ISR` }, `P${f.partition}`)
          : el(
              'span',
              {
                className: 'chip follower out-of-isr',
                'data-partition': f.partition,
                title: `P${f.partition}: follower outside the ISR`,
                'aria-label': `P${f.partition} out of the ISR`,
              },
              `P${f.partition}*`,
            ),
  );
  let bytes;
  if (latest?.state === 'ok') bytes = [el('span', null, `produce in ${latest.produceText}`), el('span', null, `replication in ${latest.replicationText}`)];
  else if (latest?.state === 'unknown') bytes = [el('span', null, 'bytes/s unknown:'), el('span', { title: latest.reason }, latest.words)];
  else bytes = 'bytes/s: measuring…';
  return el(
    'article',
    { className: `broker-card ${b.fenced ? 'fenced' : 'alive'}`, 'data-broker': b.brokerId, style: `--broker-colour: ${colourOf(b.brokerId)}` },
    el('header', null, el('span', { className: 'broker-name' }, `B${b.brokerId}`), el('span', { className: 'broker-state' }, b.fenced ? 'fenced' : 'alive')),
    el(
      'div',
      { className: 'chips', 'data-role': 'leads' },
      el('span', { className: 'chips-label' }, 'leader of'),
      b.leads.length
        ? b.leads.map((p) =>
            removing.has(p) ? removingChip(p, 'leader') : el('span', { className: 'chip leader', 'data-partition': p, title: `P${p}: leader` }, `P${p}`),
          )
        : el('span', { className: 'none' }, '–'),
    ),
    el(
      'div',
      { className: 'chips', 'data-role': 'follows' },
      el('span', { className: 'chips-label' }, 'follower of'),
      follows.length ? follows : el('span', { className: 'none' }, '–'),
    ),
    el('p', { className: `bytes ${latest?.state ?? 'measuring'}`, 'data-role': 'bytes' }, bytes),
  );
}

function renderCharts() {
  const charts = state.charts;
  if (!charts) return;
  const t = charts.throughput;
  drawLineChart($('chart-produce').querySelector('svg'), t, 'produce', t.produceScale);
  drawLineChart($('chart-replication').querySelector('svg'), t, 'replication', t.replicationScale);
  $('chart-legend').replaceChildren(
    ...t.brokers.map((b) => {
      const now =
        b.latest.state === 'ok'
          ? `in ${b.latest.produceText}, replication ${b.latest.replicationText}`
          : b.latest.state === 'measuring'
            ? 'measuring…'
            : `unknown (${b.latest.reason})`;
      return el('li', { 'data-broker': b.brokerId }, el('span', { className: 'swatch', style: `background: ${colourOf(b.brokerId)}` }), `${b.label}: ${now}`);
    }),
  );
  drawTimeline($('chart-timeline').querySelector('svg'), charts.timeline);
}

const PLOT = { left: 70, right: 10, top: 10, bottom: 24 };

/** Ticks back from now, every 15 s, 30 s or minute depending on how much time the axis spans. */
function timeTicks(startMs, endMs, x, y, lastLabel) {
  const span = endMs - startMs;
  const stepMs = span <= 90_000 ? 15_000 : span <= 180_000 ? 30_000 : 60_000;
  const ticks = [];
  for (let back = 0; endMs - back * stepMs >= startMs; back++) {
    const px = x(endMs - back * stepMs);
    const ago = (back * stepMs) / 1000;
    const label = back === 0 ? lastLabel : ago % 60 === 0 ? `−${ago / 60} min` : `−${ago} s`;
    ticks.push(
      svg('line', { class: 'grid', x1: px, x2: px, y1: PLOT.top, y2: y }),
      svg('text', { class: 'axis', x: px, y: y + 16, 'text-anchor': back === 0 ? 'end' : 'middle' }, label),
    );
  }
  return ticks;
}

function drawLineChart(node, t, key, scale) {
  const [, , width, height] = node.getAttribute('viewBox').split(' ').map(Number);
  const w = width - PLOT.left - PLOT.right;
  const h = height - PLOT.top - PLOT.bottom;
  const span = Math.max(1, t.endMs - t.startMs);
  const x = (ms) => PLOT.left + ((ms - t.startMs) / span) * w;
  const y = (v) => PLOT.top + h - (Math.min(v, scale.max) / scale.max) * h;
  const parts = [];
  for (const tick of scale.ticks) {
    parts.push(
      svg('line', { class: 'grid', x1: PLOT.left, x2: PLOT.left + w, y1: y(tick.value), y2: y(tick.value) }),
      svg('text', { class: 'axis', x: PLOT.left - 6, y: y(tick.value) + 4, 'text-anchor': 'end' }, tick.label),
    );
  }
  parts.push(...timeTicks(t.startMs, t.endMs, x, PLOT.top + h, 'now'));
  for (const b of t.brokers) {
    // A null (no answer) lifts the pen: a gap is drawn as a gap, never as zero.
    let d = '';
    let penDown = false;
    b[key].forEach((v, i) => {
      if (v === null) {
        penDown = false;
        return;
      }
      d += `${penDown ? 'L' : 'M'}${x(t.times[i]).toFixed(1)},${y(v).toFixed(1)}`;
      penDown = true;
    });
    const last = b[key].at(-1);
    parts.push(
      svg(
        'path',
        {
          class: 'series',
          d: d || 'M0,0',
          stroke: colourOf(b.brokerId),
          'data-broker': b.brokerId,
          'data-points': b[key].filter((v) => v !== null).length,
          'data-last': last ?? '',
        },
        svg('title', null, `${b.label} ${key} bytes/s`),
      ),
    );
  }
  node.replaceChildren(...parts);
}

function drawTimeline(node, tl) {
  const laneHeight = 26;
  const width = 1280;
  const height = PLOT.top + tl.lanes.length * laneHeight + PLOT.bottom;
  node.setAttribute('viewBox', `0 0 ${width} ${height}`);
  const left = 110;
  // Room right of "now": marks of the last seconds are nudged apart to the right.
  const w = width - left - 80;
  const span = Math.max(1, tl.endMs - tl.startMs);
  const x = (ms) => left + ((ms - tl.startMs) / span) * w;
  const bottom = PLOT.top + tl.lanes.length * laneHeight;
  const parts = [...timeTicks(tl.startMs, tl.endMs, x, bottom, 'now')];
  tl.lanes.forEach((lane, i) => {
    const top = PLOT.top + i * laneHeight;
    const mid = top + laneHeight / 2;
    const g = svg('g', { class: `lane${lane.fencedNow ? ' fenced' : ''}`, 'data-broker': lane.brokerId });
    g.append(
      svg('line', { class: 'lane-line', x1: left, x2: left + w, y1: mid, y2: mid, stroke: colourOf(lane.brokerId) }),
      svg('text', { class: 'lane-label', x: left - 8, y: mid + 4, 'text-anchor': 'end' }, lane.label + (lane.fencedNow ? ' ✕' : '')),
    );
    for (const s of lane.fenced) {
      g.append(
        svg(
          'rect',
          { class: 'fenced-span', x: x(s.fromMs), y: top + 3, width: Math.max(2, x(s.toMs) - x(s.fromMs)), height: laneHeight - 6, 'data-open': s.open },
          svg(
            'title',
            null,
            `${lane.label} fenced ${new Date(s.fromMs).toLocaleTimeString([], { hour12: false })} – ${s.open ? 'now' : new Date(s.toMs).toLocaleTimeString([], { hour12: false })}`,
          ),
        ),
      );
    }
    // Marks close in time are nudged apart so each stays readable; their tooltips keep the times.
    let lastX = -Infinity;
    for (const m of [...lane.marks].sort((a, b) => a.timeMs - b.timeMs)) {
      const px = Math.max(x(m.timeMs), lastX + 17);
      lastX = px;
      const more = m.count > m.texts.length ? [`… and ${m.count - m.texts.length} more`] : [];
      const label = m.partitions.length ? m.partitions.map((p) => `P${p}`).join(' ') : '';
      g.append(
        svg(
          'g',
          { class: 'mark', 'data-kind': m.kind, 'data-count': m.count, 'data-partitions': m.partitions.join(',') },
          svg(
            'title',
            null,
            [
              `${new Date(m.timeMs).toLocaleTimeString([], { hour12: false })} ${lane.label} ${MARK_WORDS[m.kind] ?? m.kind}${m.count > 1 ? ` (${m.count})` : ''}`,
              ...m.texts,
              ...more,
            ].join('\n'),
          ),
          svg('circle', { cx: px, cy: mid, r: 8 }),
          svg('text', { x: px, y: mid + 4, 'text-anchor': 'middle' }, MARK_GLYPHS[m.kind] ?? '?'),
        ),
      );
      if (label && (m.kind === 'leader' || m.kind === 'offline')) {
        g.append(svg('text', { class: 'mark-label', x: px + 10, y: top + 8 }, label));
      }
    }
    parts.push(g);
  });
  node.replaceChildren(...parts);
}

function renderBrokers(view) {
  const body = $('brokers').tBodies[0];
  const rows = [];
  for (const rack of view.racks) {
    rack.brokers.forEach((b, i) => {
      rows.push(
        el(
          'tr',
          { className: b.alive ? 'alive' : 'fenced', 'data-broker': b.id },
          i === 0 ? el('th', { scope: 'rowgroup', rowspan: rack.brokers.length }, rack.rack) : null,
          el('th', { scope: 'row' }, `B${b.id}`),
          el('td', { className: 'state' }, b.alive ? 'alive' : 'fenced'),
          el('td', { className: 'num' }, `${b.leaderCount}`),
          el('td', { className: 'num' }, `${b.replicaCount}`),
          el('td', { className: 'num' }, `${b.epoch}`),
          el('td', null, b.address),
        ),
      );
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
      state.charts = null;
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
  const moving = topic.partitions.filter((p) => p.addingReplicas.length > 0 || p.removingReplicas.length > 0).length;
  $('topic-summary').textContent =
    `${topic.name}: ${topic.partitions.length} partitions, replication factor ${topic.replicationFactor}, min.insync.replicas ${topic.minInsyncReplicas} · under-replicated ${counts['under-replicated']} · under min ISR ${counts['under-min-isr']} · offline ${counts.offline} · being reassigned ${moving}`;
  $('seed-caption').textContent = `Topic ${topic.name}: partitions each broker leads and follows (rows in rack-alternated order, as the seed's table)`;
  seedBody.replaceChildren(
    ...topic.byBroker.map((row) => {
      const follows = [];
      row.follows.forEach((f, i) => {
        if (i > 0) follows.push(' ');
        if ((row.adding ?? []).includes(f.partition)) follows.push(el('span', { className: 'moving' }, `P${f.partition} (being added)`));
        else if ((row.removing ?? []).includes(f.partition)) follows.push(el('span', { className: 'moving' }, `P${f.partition} (being removed)`));
        else follows.push(f.inIsr ? `P${f.partition}` : el('span', { className: 'out-of-sync' }, `P${f.partition} (out of sync)`));
      });
      return el(
        'tr',
        { className: row.fenced ? 'fenced' : 'alive', 'data-broker': row.brokerId },
        el('th', { scope: 'row' }, row.label, row.fenced ? ' (fenced)' : ''),
        el('td', { 'data-col': 'leads' }, row.leads.map((p) => ((row.removing ?? []).includes(p) ? `P${p} (being removed)` : `P${p}`)).join(' ') || '–'),
        el('td', { 'data-col': 'follows' }, follows.length ? follows : '–'),
      );
    }),
  );
  renderPartitions();
}

const STATUS_TEXT = { ok: 'ok', 'under-replicated': 'under-replicated', 'under-min-isr': 'under min ISR', offline: 'offline' };

function renderPartitions() {
  const topic = currentTopic();
  if (!topic) return;
  $('partitions-caption').textContent = `Partitions of ${topic.name}: leader, epoch, replicas, in-sync replicas, high watermark, follower lag and status`;
  const stats = state.stats?.topic === topic.name ? state.stats : null;
  $('partitions').tBodies[0].replaceChildren(
    ...topic.partitions.map((p) => {
      const found = stats?.partitions.find((x) => x.partition === p.partition);
      // Numbers from a previous leader are not this leader's: wait for the next stats.
      const s = found?.leader === p.leader ? found : undefined;
      const hw =
        s?.highWatermark !== undefined
          ? String(s.highWatermark)
          : s?.unknown
            ? `unknown (${s.unknown})`
            : found
              ? 'unknown (asking the new leader)'
              : 'unknown (asking)';
      const lag = s?.lag
        ? s.lag.map((l) => `B${l.brokerId}: ${l.records}${l.records > 0 ? ` (${(l.msSinceCaughtUp / 1000).toFixed(1)} s)` : ''}`).join(', ') || '–'
        : 'unknown';
      return el(
        'tr',
        { className: p.status.join(' '), 'data-partition': p.partition },
        el('th', { scope: 'row' }, `P${p.partition}`),
        el('td', { 'data-col': 'leader' }, p.leader < 0 ? 'none' : `B${p.leader}`),
        el('td', { className: 'num', 'data-col': 'epoch' }, `${p.leaderEpoch}`),
        el('td', { 'data-col': 'replicas' }, replicasCell(p, s)),
        el('td', { 'data-col': 'isr' }, p.isr.map((id) => `B${id}`).join(', ')),
        el('td', { className: s?.highWatermark !== undefined ? 'num' : 'unknown', 'data-col': 'hw' }, hw),
        el('td', { 'data-col': 'lag' }, lag),
        el('td', { className: 'status', 'data-col': 'status' }, p.status.map((x) => STATUS_TEXT[x] ?? x).join(', ')),
      );
    }),
  );
}

/** B0, B3, B1 — and during a reassignment `B2 (adding, 40% copied)`, `B0 (removing)`. */
function replicasCell(p, s) {
  return p.replicas
    .map((id) => {
      if (p.addingReplicas.includes(id)) {
        const copy = s?.copies?.find((c) => c.brokerId === id);
        return `B${id} (adding, ${copy ? `${copy.percent.toFixed(1)}% copied` : 'progress unknown'})`;
      }
      return p.removingReplicas.includes(id) ? `B${id} (removing)` : `B${id}`;
    })
    .join(', ');
}

/** Each consumer group with its member count and, per partition of the topic shown, its lag. */
function renderGroups() {
  const groups = state.charts?.groups;
  if (!groups) return;
  $('groups-caption').textContent = `Consumer groups: members and lag per partition${state.topic ? ` of ${state.topic}` : ''}`;
  const rows = groups.map((g) =>
    el(
      'tr',
      { 'data-group': g.groupId },
      el('th', { scope: 'row' }, g.groupId),
      el('td', { className: 'num', 'data-col': 'members' }, String(g.members)),
      el('td', { className: 'num', 'data-col': 'lag' }, String(g.totalLag)),
      el(
        'td',
        { 'data-col': 'partitions' },
        g.partitions.length === 0
          ? '–'
          : g.partitions.map((p) => `P${p.partition} ${p.lag ?? '?'} (${p.committedOffset} / ${p.logEndOffset ?? '?'})`).join(', '),
      ),
    ),
  );
  $('groups').tBodies[0].replaceChildren(...(rows.length ? rows : [el('tr', null, el('td', { colSpan: 4 }, 'no consumer groups'))]));
}

function renderEvents() {
  const items = [...state.events].reverse().map((e) => {
    const time = new Date(e.timeMs);
    return el(
      'li',
      { 'data-kind': e.kind },
      el('time', { datetime: time.toISOString() }, `${time.toLocaleTimeString([], { hour12: false })}.${String(time.getMilliseconds()).padStart(3, '0')}`),
      el('span', { className: 'kind' }, e.kind.replace(/-/g, ' ')),
      e.text,
    );
  });
  $('events').replaceChildren(...(items.length ? items : [el('li', null, 'no events yet')]));
}

$('topic-select').addEventListener('change', (e) => {
  state.topic = e.target.value;
  state.stats = null;
  history.replaceState(null, '', `#${encodeURIComponent(state.topic)}`);
  state.charts = null;
  renderTopic();
  renderPicture();
  connect();
});

connect();
