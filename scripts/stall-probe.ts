// How often this machine keeps a runnable process off the CPU: a 1 ms interval timer counts the
// ticks that came more than 3 ms late. Run it alone (the machine's own hiccups) and next to a
// benchmark phase (what the cluster's load does to a bystander) to read latency tails.
//
//   node scripts/stall-probe.ts [SECONDS]

const seconds = Number(process.argv[2] ?? 10);
const lateMs: number[] = [];
let ticks = 0;
let last = performance.now();
const interval = setInterval(() => {
  const now = performance.now();
  if (now - last > 3) lateMs.push(now - last);
  last = now;
  ticks++;
}, 1);
setTimeout(() => {
  clearInterval(interval);
  lateMs.sort((a, b) => b - a);
  const worst = lateMs
    .slice(0, 8)
    .map((ms) => ms.toFixed(1))
    .join(' ');
  console.log(`${ticks} ticks in ${seconds} s; ${lateMs.length} came > 3 ms late; worst ${worst || '-'} ms`);
}, seconds * 1000);
