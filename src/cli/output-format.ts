// `--format table|json` of the listing commands (images, ps, info, search, showconf): one option, one check.
import { Option } from "clipanion";
import { InvalidArgumentError } from "../errors.js";

/** What a listing prints: a table for people, JSON for programs. */
export type OutputFormat = "table" | "json";

/** The `--format` option of a listing command. */
export function formatOption(): string | undefined {
  return Option.String("--format", { description: "Output format: table (default) or json" });
}

/** The format `value` names (table when none); any other value is refused in one line (exit 1). */
export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === "table") return "table";
  if (value === "json") return "json";
  throw new InvalidArgumentError(`unknown --format "${value}": use table or json`);
}
