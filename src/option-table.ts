// Command-line options declared as plain data: a table from which a clipanion command (src/cli/declared-options.ts),
// a reader without clipanion (src/cli/run-direct.ts) and the typed values (OptionValues) all come.

/** How an option reads: a value (`--name X`), a repeatable value (`-v A -v B`), or a flag. */
export type OptionKind = "string" | "array" | "boolean";

/** One option: its names (`-v`, `--volume`), how it reads, what `--help` says, and its value when absent. */
export interface OptionDecl {
  readonly names: readonly string[];
  readonly kind: OptionKind;
  readonly description: string;
  /** For a string option: its value when not given (else undefined). */
  readonly default?: string;
}

/** Options by the field name their value takes. */
export type OptionTable = Readonly<Record<string, OptionDecl>>;

/** The value one declaration gives: a flag's boolean, a repeated option's list, a string (or undefined). */
export type OptionValue<D extends OptionDecl> = D extends { kind: "boolean" }
  ? boolean
  : D extends { kind: "array" }
    ? string[]
    : D extends { default: string }
      ? string
      : string | undefined;

/** The values of a table's options, by field name. */
export type OptionValues<T extends OptionTable> = { -readonly [K in keyof T]: OptionValue<T[K]> };

/** The values of a table's options when none is given: flags false, lists empty, strings their default. */
export function defaultValues<T extends OptionTable>(table: T): OptionValues<T> {
  const values: Record<string, string | string[] | boolean | undefined> = {};
  for (const [key, o] of Object.entries(table)) {
    values[key] = o.kind === "boolean" ? false : o.kind === "array" ? [] : o.default;
  }
  return values as OptionValues<T>;
}

/** The declarations of `keys` (in that order) from `table`. */
export function pickOptions<T extends OptionTable, K extends keyof T & string>(
  table: T,
  ...keys: K[]
): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) picked[key] = table[key];
  return picked;
}
