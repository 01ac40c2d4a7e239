// Reading a command line against declared options the way clipanion does, for its plain forms, without
// clipanion itself: src/cli/fast-run.ts (any command, its declarations read from clipanion) and
// src/cli/run-direct.ts (`burrow run`, from the one declaration of its options, src/run/options.ts) share it.

/** What a command takes: its options (clipanion's declarations, or a table of its own), positionals, proxy. */
export interface Declarations {
  /** Every option name (`-v`, `--volume`, ...) and whether it takes a value. */
  options: Map<string, { arity: number; allowBinding: boolean }>;
  /** Positional arguments before the proxy (`IMAGE`). */
  positionals: number;
  /** Optional positional arguments after those (`[DEST]`); none with a proxy. */
  optional?: number;
  /** Whether the rest of the command line is proxied (`COMMAND [ARG...]`). */
  proxy: boolean;
}

/** One parsed option, in the form clipanion's option transformers read. */
export interface ParsedOption {
  name: string;
  value: string | boolean;
}

/** The parse state handed to clipanion's option transformers (the subset they read). */
export interface ParseState {
  path: string[];
  options: ParsedOption[];
  positionals: { value: string; extra: boolean | symbol }[];
}

/**
 * Splits `argv` (the words after the command name) into options and positionals as clipanion would,
 * for the plain forms: `--name VALUE`, `--name=VALUE`, `-n VALUE`, flags, batched short flags (`-it`),
 * then the positionals and the proxied rest verbatim; for a command with a proxy, `--` ends the options
 * (`run --location ROOT -- COMMAND`, as a build's RUN step writes it). Undefined for anything else (`--help`,
 * an unknown or misplaced option, a missing positional): clipanion parses those and says what is wrong.
 */
export function splitCommandLine(decl: Declarations, argv: string[]): ParseState | undefined {
  const options: ParsedOption[] = [];
  let i = 0;
  let ended = false;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--" && decl.proxy) {
      ended = true;
      i++;
      break;
    }
    if (!word.startsWith("-") || word === "-") break;
    const eq = word.startsWith("--") ? word.indexOf("=") : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    const spec = decl.options.get(name);
    if (spec === undefined) {
      // Batched short flags: `-it` is `-i -t` when every letter is a flag.
      const letters = /^-[a-zA-Z]{2,}$/.test(word) ? [...word.slice(1)].map((c) => `-${c}`) : [];
      if (letters.length === 0 || !letters.every((l) => decl.options.get(l)?.arity === 0)) return undefined;
      for (const l of letters) options.push({ name: l, value: true });
      continue;
    }
    if (spec.arity === 0) {
      if (eq > 0) return undefined;
      options.push({ name, value: true });
      continue;
    }
    if (eq > 0) {
      if (!spec.allowBinding) return undefined;
      options.push({ name, value: word.slice(eq + 1) });
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith("-")) return undefined;
    options.push({ name, value });
    i++;
  }
  const rest = argv.slice(i);
  const most = decl.positionals + (decl.optional ?? 0);
  if (rest.length < decl.positionals || (!decl.proxy && rest.length > most)) return undefined;
  // An option among the positionals (`push IMAGE -q`): clipanion reads it as one, or says it is unknown.
  const named = ended ? [] : decl.proxy ? rest.slice(0, decl.positionals) : rest;
  if (named.some((w) => w.startsWith("-") && w !== "-")) return undefined;
  return {
    path: [],
    options,
    positionals: rest.map((value, n) => ({ value, extra: n < decl.positionals ? false : true })),
  };
}
