// Reads bench/run/run.sh's hyperfine results, prints the tables and ratios, and writes results.json.
import fs from "node:fs";

/** One command's result as hyperfine's --export-json writes it. */
interface HyperfineResult {
  command: string;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  times: number[];
}

const e = process.env;
const dir = e.W ?? ".";
const load = (file: string): HyperfineResult[] =>
  (JSON.parse(fs.readFileSync(`${dir}/${file}`, "utf8")) as { results: HyperfineResult[] }).results;
const start = load("startup.json");
const work = load("workload.json");
/** The concurrent start-ups (absent from results written before they were measured). */
const atOnce = fs.existsSync(`${dir}/at-once.json`) ? load("at-once.json") : [];
const n = e.AT_ONCE ?? "32";

const ms = (s: number): string => (s * 1000).toFixed(1);
/** The median of a command's run times, in seconds. */
const median = (r: HyperfineResult): number => {
  const t = [...r.times].sort((a, b) => a - b);
  const mid = Math.floor(t.length / 2);
  return t.length % 2 ? t[mid]! : (t[mid - 1]! + t[mid]!) / 2;
};
const row = (r: HyperfineResult): string =>
  `| ${r.command.padEnd(30)} | ${ms(r.mean).padStart(7)} ± ${ms(r.stddev).padStart(5)} | ` +
  `${ms(median(r)).padStart(9)} | ${ms(r.min).padStart(7)} |`;
const head =
  "| command                        |   mean ± σ ms   | median ms |  min ms |\n" +
  "| ------------------------------ | --------------: | --------: | ------: |";
const by = (rs: HyperfineResult[], name: string): HyperfineResult | undefined =>
  rs.find((r) => r.command === name);
const ratio = (a?: HyperfineResult, b?: HyperfineResult): number | undefined =>
  a && b ? median(a) / median(b) : undefined;
/** The ratio of the fastest runs: on a busy machine noise only adds time, so this is the steadier one. */
const bestRatio = (a?: HyperfineResult, b?: HyperfineResult): number | undefined =>
  a && b ? a.min / b.min : undefined;
const fmt = (x: number | undefined): string => (x === undefined ? "n/a" : `${x.toFixed(2)}x`);

const node = by(start, "node -e 0");
const spawnFloor = by(start, "node spawning /bin/true");
const version = by(start, "burrow version");
const burrow = by(start, "burrow run");
const userns = by(start, "burrow run --engine userns");
const chRun = by(start, "ch-run");
const podman = by(start, "podman run (runc)");
const burrowAtOnce = by(atOnce, `${n} x burrow run`);
const nodeAtOnce = by(atOnce, `${n} x node -e 0`);
const chAtOnce = by(atOnce, `${n} x ch-run`);
const burrowWork = by(work, "burrow run: workload");
const chWork = by(work, "ch-run: workload");
/** The workload with each tool's own start-up taken away: what the container costs the program. */
const net =
  burrowWork && chWork && burrow && chRun
    ? (median(burrowWork) - median(burrow)) / (median(chWork) - median(chRun))
    : undefined;
const ratios = {
  burrow_vs_node: ratio(burrow, node),
  spawn_floor_vs_node: ratio(spawnFloor, node),
  burrow_vs_spawn_floor: ratio(burrow, spawnFloor),
  burrow_userns_vs_node: ratio(userns, node),
  burrow_version_vs_node: ratio(version, node),
  burrow_vs_ch_run: ratio(burrow, chRun),
  burrow_vs_podman: ratio(burrow, podman),
  at_once_burrow_s: burrowAtOnce ? median(burrowAtOnce) : undefined,
  at_once_burrow_vs_node: ratio(burrowAtOnce, nodeAtOnce),
  at_once_burrow_vs_ch_run: ratio(burrowAtOnce, chAtOnce),
  workload_burrow_vs_ch_run: ratio(burrowWork, chWork),
  best_burrow_vs_node: bestRatio(burrow, node),
  best_workload_burrow_vs_ch_run: bestRatio(burrowWork, chWork),
  workload_net_of_startup_burrow_vs_ch_run: net,
};

const out = [
  `burrow ${e.BURROW_VERSION} (${e.GIT}), node ${e.NODE_VERSION}, ${e.CH_VERSION}, ` +
    `${e.PODMAN_VERSION || "no podman"} with ${e.RUNC_VERSION || "no runc"}, ${e.HF_VERSION}`,
  `kernel ${e.KERNEL}, ${e.NPROC} CPUs, load ${e.LOAD} at the end; burrow pull into a fresh store: ${e.PULL_MS} ms`,
  "",
  "Start-up (/bin/true in the Alpine image):",
  "",
  head,
  ...start.map(row),
  "",
  `${n} started at once (bench/run/at-once.sh: the ranks of a job on one node):`,
  "",
  head,
  ...atOnce.map(row),
  "",
  `Workload (${e.LOOPS} x /bin/true, ${e.FINDS} x find over /usr /lib /etc /bin /sbin):`,
  "",
  head,
  ...work.map(row),
  "",
  "Ratios (medians; best runs in brackets):",
  `  start:    burrow run / node -e 0 = ${fmt(ratios.burrow_vs_node)} [${fmt(ratios.best_burrow_vs_node)}] (target <= 1.25x); ` +
    `--engine userns ${fmt(ratios.burrow_userns_vs_node)}; burrow version / node -e 0 = ${fmt(ratios.burrow_version_vs_node)}`,
  `            node spawning /bin/true / node -e 0 = ${fmt(ratios.spawn_floor_vs_node)} (the floor of a Node CLI that runs a program); ` +
    `burrow run / that floor = ${fmt(ratios.burrow_vs_spawn_floor)}`,
  `            burrow run / ch-run = ${fmt(ratios.burrow_vs_ch_run)}; burrow run / podman run = ${fmt(ratios.burrow_vs_podman)}`,
  `  at once:  ${n} x burrow run = ${burrowAtOnce ? ms(median(burrowAtOnce)) : "n/a"} ms (target <= 600 ms); ` +
    `/ ${n} x node -e 0 = ${fmt(ratios.at_once_burrow_vs_node)}; / ${n} x ch-run = ${fmt(ratios.at_once_burrow_vs_ch_run)}`,
  `  workload: burrow / ch-run = ${fmt(ratios.workload_burrow_vs_ch_run)} [${fmt(ratios.best_workload_burrow_vs_ch_run)}] (target <= 1.05x); ` +
    `without either start-up: ${fmt(net)}`,
];
if (e.CH_WHY) out.push(`  ch-run left out: ${e.CH_WHY}`);
if (e.PODMAN_WHY) out.push(`  podman left out: ${e.PODMAN_WHY}`);
process.stdout.write(out.join("\n") + "\n");

const results = {
  date: new Date().toISOString(),
  env: {
    burrow: e.BURROW_VERSION,
    git: e.GIT,
    node: e.NODE_VERSION,
    ch_run: e.CH_VERSION,
    podman: e.PODMAN_VERSION || null,
    runc: e.RUNC_VERSION || null,
    hyperfine: e.HF_VERSION,
    kernel: e.KERNEL,
    cpus: Number(e.NPROC),
    load: e.LOAD,
  },
  pull_ms: Number(e.PULL_MS),
  workload: { loops: Number(e.LOOPS), finds: Number(e.FINDS) },
  at_once: Number(n),
  left_out: { ch_run: e.CH_WHY || null, podman: e.PODMAN_WHY || null },
  ratios,
  startup: start,
  at_once_results: atOnce,
  workload_results: work,
};
fs.writeFileSync(`${dir}/results.json`, JSON.stringify(results, null, 2) + "\n");
