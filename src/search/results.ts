// What `burrow search` does with the results: docker's filters, its truncated descriptions, its table.
import { InvalidArgumentError } from "../errors.js";
import { table } from "../cli/format.js";
import type { SearchResult } from "./hub.js";
import { printable, printableJson } from "../cli/printable.js";

/** The width docker cuts descriptions to unless `--no-trunc`. */
export const DESCRIPTION_WIDTH = 45;

/** Docker's `--filter` conditions on search results. */
export interface SearchFilter {
  /** At least this many stars. */
  stars?: number;
  official?: boolean;
  automated?: boolean;
}

/** Parses `--filter` values: `stars=N`, `is-official=true|false`, `is-automated=true|false`. */
export function parseSearchFilters(values: readonly string[]): SearchFilter {
  const filter: SearchFilter = {};
  for (const value of values) {
    const eq = value.indexOf("=");
    const key = eq > 0 ? value.slice(0, eq).trim() : "";
    const raw = eq > 0 ? value.slice(eq + 1).trim() : "";
    const bool = (): boolean => {
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new InvalidArgumentError(`invalid --filter "${value}": ${key} takes true or false`);
    };
    if (key === "stars") {
      if (!/^\d+$/.test(raw))
        throw new InvalidArgumentError(`invalid --filter "${value}": stars takes a number`);
      filter.stars = Number(raw);
    } else if (key === "is-official") {
      filter.official = bool();
    } else if (key === "is-automated") {
      filter.automated = bool();
    } else {
      throw new InvalidArgumentError(
        `invalid --filter "${value}": use stars=N, is-official=true|false or is-automated=true|false`,
      );
    }
  }
  return filter;
}

/** The results that meet every condition of `filter`, in their order. */
export function applySearchFilter(results: readonly SearchResult[], filter: SearchFilter): SearchResult[] {
  return results.filter(
    (r) =>
      (filter.stars === undefined || r.stars >= filter.stars) &&
      (filter.official === undefined || r.official === filter.official) &&
      (filter.automated === undefined || r.automated === filter.automated),
  );
}

/**
 * A description on one line (newlines and tabs become spaces, other control characters their printable
 * form), cut to `width` characters with "…" as the last one when it is longer. Characters are counted as
 * code points, so none is cut in half.
 */
export function truncateDescription(description: string, width: number = DESCRIPTION_WIDTH): string {
  const flat = printable(description.replace(/[\r\n\t]+/g, " ").trim());
  const chars = Array.from(flat);
  if (chars.length <= width) return flat;
  return `${chars
    .slice(0, Math.max(0, width - 1))
    .join("")
    .trimEnd()}…`;
}

/** The table `docker search` prints: NAME, DESCRIPTION (cut unless `noTrunc`), STARS, OFFICIAL. */
export function searchTable(results: readonly SearchResult[], noTrunc = false): string {
  const rows: string[][] = [["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]];
  for (const r of results) {
    const description = noTrunc
      ? r.description.replace(/[\r\n\t]+/g, " ").trim()
      : truncateDescription(r.description);
    rows.push([r.name, description, String(r.stars), r.official ? "[OK]" : ""]);
  }
  return table(rows);
}

/** The results as `--format json` prints them: a list of {name, description, stars, official, automated}. */
export function searchJson(results: readonly SearchResult[]): string {
  return printableJson(results) + "\n";
}
