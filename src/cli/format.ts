// Small output formatting helpers shared by commands.
import { printable } from "./printable.js";

/** Bytes as a short human string (1000-based like docker: 12.3MB). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[u]}`;
}

/** A time as "N units ago". */
export function timeAgo(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "unknown";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "unknown";
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [30, "day"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let v = s;
  for (const [div, unit] of steps) {
    if (v < div) return v <= 1 && unit === "second" ? "just now" : `${v} ${unit}${v === 1 ? "" : "s"} ago`;
    v = Math.floor(v / div);
  }
  return "long ago";
}

/** Lays rows out in left-aligned columns separated by three spaces; each cell on one line, printable. */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("   ")
        .trimEnd(),
    )
    .join("\n")
    .concat(rows.length > 0 ? "\n" : "");
}

/** A stored repository name as docker shows it: `docker.io/library/alpine` → `alpine`. */
export function familiarName(repo: string): string {
  if (repo.startsWith("docker.io/library/")) return repo.slice("docker.io/library/".length);
  if (repo.startsWith("docker.io/")) return repo.slice("docker.io/".length);
  return repo;
}
