// The rows of `burrow history`: an image config's `history`, newest first, each step with its layer's size.

/** One entry of an image config's `history` (OCI image spec). */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** One row of `burrow history`, as docker's `history` prints it. */
export interface HistoryRow {
  /** The image id for the newest step, else "<missing>" (as docker prints pulled images' steps). */
  id: string;
  created?: string | undefined;
  createdBy: string;
  /** The uncompressed size of the step's layer, 0 for a step that made none. */
  size: number;
  comment: string;
}

/** The history entries of a parsed config (an absent or malformed list is none). */
export function configHistory(config: unknown): HistoryEntry[] {
  const h = (config as { history?: unknown } | null)?.history;
  if (!Array.isArray(h)) return [];
  return h.filter((e): e is HistoryEntry => typeof e === "object" && e !== null);
}

/**
 * The rows for `history`, newest first: each non-empty step takes the next layer's size in order; `imageId`
 * names the newest step. Without history entries, one row per layer (as docker shows an image with none).
 */
export function historyRows(imageId: string, entries: HistoryEntry[], layerSizes: number[]): HistoryRow[] {
  const rows: HistoryRow[] = [];
  let layer = 0;
  if (entries.length === 0) {
    for (const size of layerSizes) rows.push({ id: "<missing>", createdBy: "", size, comment: "" });
  } else {
    for (const e of entries) {
      const size = e.empty_layer === true ? 0 : (layerSizes[layer++] ?? 0);
      rows.push({
        id: "<missing>",
        created: typeof e.created === "string" ? e.created : undefined,
        createdBy: typeof e.created_by === "string" ? e.created_by : "",
        size,
        comment: typeof e.comment === "string" ? e.comment : "",
      });
    }
  }
  rows.reverse();
  if (rows[0]) rows[0].id = imageId;
  return rows;
}

/** `created_by` for the table: tabs as spaces, and cut to 45 characters with "…" unless `noTrunc` (docker's form). */
export function createdByCell(createdBy: string, noTrunc: boolean): string {
  const s = createdBy.replace(/\t/g, " ");
  if (noTrunc) return s;
  const chars = [...s];
  return chars.length <= 45 ? s : chars.slice(0, 44).join("") + "…";
}

/** A duration as docker's `history` prints it ("About an hour", "2 weeks"), from go-units' HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(ms / 60000);
  const hours = Math.round(ms / 3600000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

/** When a step was made, as "2 weeks ago" (docker's CREATED), or "N/A" without a valid time. */
export function createdAgo(created: string | undefined, now = Date.now()): string {
  const t = created === undefined ? NaN : Date.parse(created);
  if (Number.isNaN(t) || t <= 0) return "N/A";
  return `${humanDuration(Math.max(0, now - t))} ago`;
}

/** A size as docker's `history` prints it: go-units' HumanSizeWithPrecision(size, 3) ("7.8MB", "0B"). */
export function historySize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${Number(v.toPrecision(3))}${units[u]}`;
}
