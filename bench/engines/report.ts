// Reads bench/engines/run.sh's cells (one hyperfine JSON per workload x tool), prints the table of
// mean ± σ with the ratios to ch-run and to udocker-style PRoot, and writes results.json.
import fs from "node:fs";

/** One command's result as hyperfine's --export-json writes it. */
interface HyperfineResult {
  command: string;
  mean: number;
  stddev: number | null;
  median: number;
  min: number;
  max: number;
  times: number[];
}

interface Cell {
  workload: string;
  tool: string;
  status: "ok" | "failed" | "left out";
  result?: HyperfineResult;
  reason?: string;
}

const e = process.env;
const dir = e.W ?? ".";
/** Reads `KEY=label` lines into a map. */
const labels = (text: string | undefined): Map<string, string> =>
  new Map(
    (text ?? "")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]),
  );
const workloadLabel = labels(e.WL_LABELS);
const toolLabel = labels(e.TOOL_LABELS);

const tsv = (file: string): string[][] =>
  fs.existsSync(`${dir}/${file}`)
    ? fs
        .readFileSync(`${dir}/${file}`, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => l.split("\t"))
    : [];

const cells: Cell[] = tsv("cells.tsv").map(([workload = "", tool = "", status = "", rest = ""]) => {
  if (status === "ok") {
    const r = (JSON.parse(fs.readFileSync(rest, "utf8")) as { results: HyperfineResult[] }).results[0]!;
    return { workload, tool, status: "ok", result: r };
  }
  return { workload, tool, status: status as Cell["status"], reason: rest.trim() };
});
const checks = tsv("checks.tsv").map(([image = "", tool = "", status = "", output = ""]) => ({
  image,
  tool,
  status,
  output: output.trim(),
}));

const workloads = [...new Set(cells.map((c) => c.workload))];
const tools = [...new Set(cells.map((c) => c.tool))];
const cell = (w: string, t: string): Cell | undefined => cells.find((c) => c.workload === w && c.tool === t);
const mean = (w: string, t: string): number | undefined => cell(w, t)?.result?.mean;
const ratio = (a?: number, b?: number): number | undefined => (a !== undefined && b ? a / b : undefined);
const fmtRatio = (x?: number): string => (x === undefined ? "n/a" : `${x.toFixed(2)}x`);
/** Seconds, with enough digits for both 5 ms and 50 s. */
const fmtS = (s: number): string => (s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`);

const cols = ["workload", "tool", "mean ± σ", "vs ch-run", "vs PRoot P1", "vs PRoot P2"];
const rows: string[][] = [];
const ratios: Record<string, Record<string, Record<string, number | null>>> = {};
for (const w of workloads) {
  ratios[w] = {};
  for (const t of tools) {
    const c = cell(w, t);
    if (!c) continue;
    const m = c.result?.mean;
    const r = {
      vs_ch_run: ratio(m, mean(w, "ch-run")),
      vs_proot_p1: ratio(m, mean(w, "proot-p1")),
      vs_proot_p2: ratio(m, mean(w, "proot-p2")),
    };
    ratios[w]![t] = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? null]));
    rows.push([
      workloadLabel.get(w) ?? w,
      toolLabel.get(t) ?? t,
      c.result
        ? `${fmtS(c.result.mean)} ± ${fmtS(c.result.stddev ?? 0)}`
        : c.status === "failed"
          ? "FAILED"
          : "left out",
      fmtRatio(r.vs_ch_run),
      fmtRatio(r.vs_proot_p1),
      fmtRatio(r.vs_proot_p2),
    ]);
  }
}
const widths = cols.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]): string =>
  "| " + r.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(" | ") + " |";
const table = [
  line(cols),
  "| " + widths.map((n, i) => (i < 2 ? "-".repeat(n) : "-".repeat(n - 1) + ":")).join(" | ") + " |",
  ...rows.map(line),
];

const out = [
  `burrow ${e.BURROW_VERSION} (${e.GIT}), node ${e.NODE_VERSION}, ch-run ${e.CH_VERSION}, PRoot ${e.PROOT_VERSION}, ` +
    `${e.RUNC_VERSION}, gcc ${e.GCC_VERSION || "?"} (Debian image), ${e.HF_VERSION}`,
  `kernel ${e.KERNEL}, ${e.NPROC} CPUs, load ${e.LOAD} at the end; as user ${e.USER_}; ` +
    `hyperfine -N, ${e.RUNS} runs after ${e.WARMUP} warm-up; pull into a fresh store (ms): ${e.PULL_MS}`,
  "",
  ...table,
  "",
  "Ratios are of means. PRoot P1/P2: udocker-style `proot -r COPY -0 -w / -b /proc -b /dev -b /sys`, " +
    "as udocker's P1 (seccomp acceleration) and P2 (PROOT_NO_SECCOMP=1) modes run it, on a copy of the rootfs.",
  `PRoot's built-in accelerators: ${e.PROOT_ACCEL || "not said"}` +
    (/seccomp_filter\s*=\s*no/.test(e.PROOT_ACCEL ?? "")
      ? " (this build has no seccomp acceleration: P1 and P2 run alike, their difference is noise)"
      : ""),
];
const failed = cells.filter((c) => c.status !== "ok");
if (failed.length) {
  out.push("", "Failures and left-out tools:");
  for (const c of failed) out.push(`  ${c.workload} / ${c.tool}: ${c.status}: ${c.reason}`);
}
const badChecks = checks.filter((c) => c.status !== "ok");
if (badChecks.length) {
  out.push("", "Failed checks:");
  for (const c of badChecks) out.push(`  ${c.image} / ${c.tool}: ${c.output}`);
}
process.stdout.write(out.join("\n") + "\n");

const results = {
  date: new Date().toISOString(),
  env: {
    burrow: e.BURROW_VERSION,
    git: e.GIT,
    node: e.NODE_VERSION,
    ch_run: e.CH_VERSION,
    proot: e.PROOT_VERSION,
    proot_accelerators: e.PROOT_ACCEL,
    runc: e.RUNC_VERSION,
    gcc: e.GCC_VERSION,
    hyperfine: e.HF_VERSION,
    kernel: e.KERNEL,
    cpus: Number(e.NPROC),
    load: e.LOAD,
    user: e.USER_,
  },
  settings: {
    runs: Number(e.RUNS),
    warmup: Number(e.WARMUP),
    loops: Number(e.LOOPS),
    finds: Number(e.FINDS),
    compiles: Number(e.COMPILES),
  },
  pull_ms: e.PULL_MS,
  workloads: Object.fromEntries(workloads.map((w) => [w, workloadLabel.get(w) ?? w])),
  tools: Object.fromEntries(tools.map((t) => [t, toolLabel.get(t) ?? t])),
  checks,
  ratios,
  cells,
  table: table.join("\n"),
};
fs.writeFileSync(`${dir}/results.json`, JSON.stringify(results, null, 2) + "\n");
