// `burrow run` without building clipanion's parser: the command line is read against RunCommand's own
// option declarations (the single definition of its options), then the command runs as clipanion would run it.
import { Command } from "clipanion";
import type { Cli, CommandClass } from "clipanion";
import type { BurrowContext } from "./base.js";

/** What a command class declares, read through its clipanion options' own definition hooks. */
export interface Declarations {
  /** Every option name (`-v`, `--volume`, ...) and whether it takes a value. */
  options: Map<string, { arity: number; allowBinding: boolean }>;
  /** Positional arguments before the proxy (`IMAGE`). */
  positionals: number;
  /** Whether the rest of the command line is proxied (`COMMAND [ARG...]`). */
  proxy: boolean;
}

/** One parsed option, in the form clipanion's option transformers read. */
interface ParsedOption {
  name: string;
  value: string | boolean;
}

/** The parse state handed to clipanion's option transformers (the subset they read). */
interface ParseState {
  path: string[];
  options: ParsedOption[];
  positionals: { value: string; extra: boolean | symbol }[];
}

/** A clipanion option as it sits on a fresh command instance before parsing. */
interface DeclaredOption {
  definition(builder: unknown, key: string): void;
  transformer(builder: unknown, key: string, state: ParseState, context: BurrowContext): unknown;
}

/** The clipanion options of a fresh command instance, in declaration order (clipanion's own order). */
function declaredOptions(command: Command<BurrowContext>): [string, DeclaredOption][] {
  const found: [string, DeclaredOption][] = [];
  const fields = command as unknown as Record<string, unknown>;
  for (const key in fields) {
    const value = fields[key] as Record<symbol, unknown> | null;
    if (typeof value === "object" && value !== null && value[Command.isOption] === true) {
      found.push([key, value as unknown as DeclaredOption]);
    }
  }
  return found;
}

/**
 * Reads what `commandClass` declares: option names and arities, positionals, proxy. Undefined when a
 * declaration is of a kind this reader does not know (clipanion then parses the command line).
 */
export function readDeclarations(commandClass: CommandClass<BurrowContext>): Declarations | undefined {
  const decl: Declarations = { options: new Map(), positionals: 0, proxy: false };
  let ok = true;
  const builder = {
    addOption(o: { names: string[]; arity?: number; allowBinding?: boolean; required?: boolean }): void {
      const arity = o.arity ?? 0;
      for (const name of o.names) decl.options.set(name, { arity, allowBinding: o.allowBinding ?? true });
      // Left to clipanion: several values per option, a required option (its absence is a usage error),
      // and a string option that tolerates being a flag (`--opt` or `--opt=VALUE`).
      if (arity > 1 || o.required === true || (arity === 0 && o.allowBinding !== false)) ok = false;
    },
    addPositional(o: { required?: boolean }): void {
      if (decl.proxy || o.required === false) ok = false;
      decl.positionals++;
    },
    addProxy(): void {
      decl.proxy = true;
    },
  };
  try {
    for (const [key, option] of declaredOptions(new commandClass())) option.definition(builder, key);
  } catch {
    return undefined; // A builder call this reader does not provide: an option kind it does not know.
  }
  return ok ? decl : undefined;
}

/**
 * Splits `argv` (the words after the command name) into options and positionals as clipanion would,
 * for the plain forms: `--name VALUE`, `--name=VALUE`, `-n VALUE`, flags, batched short flags (`-it`),
 * then the positionals and the proxied rest verbatim. Undefined for anything else (`--help`, an
 * unknown or misplaced option, a missing positional, `--`): clipanion parses those and says what is wrong.
 */
export function splitCommandLine(decl: Declarations, argv: string[]): ParseState | undefined {
  const options: ParsedOption[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
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
  if (rest.length < decl.positionals || (!decl.proxy && rest.length > decl.positionals)) return undefined;
  return {
    path: [],
    options,
    positionals: rest.map((value, n) => ({ value, extra: n < decl.positionals ? false : true })),
  };
}

/**
 * A `commandClass` instance for `argv` (the words after its path), its fields filled by its own option
 * transformers as clipanion's `process` fills them. Undefined when the command line needs clipanion's
 * parser (help, errors, forms the direct reader leaves alone).
 */
export function buildDirect(
  commandClass: CommandClass<BurrowContext>,
  path: string[],
  argv: string[],
  context: BurrowContext,
): Command<BurrowContext> | undefined {
  const decl = readDeclarations(commandClass);
  if (decl === undefined) return undefined;
  const state = splitCommandLine(decl, argv);
  if (state === undefined) return undefined;
  state.path = path;
  const command = new commandClass();
  command.context = context;
  command.path = path;
  const fields = command as unknown as Record<string, unknown>;
  for (const [key, option] of declaredOptions(command)) {
    fields[key] = option.transformer(undefined, key, state, context);
  }
  return command;
}

/** Runs `commandClass` on `argv` through `cli` without registering it; undefined: use clipanion's parser. */
export async function runDirect(
  cli: Cli<BurrowContext>,
  commandClass: CommandClass<BurrowContext>,
  path: string[],
  argv: string[],
  context: BurrowContext,
): Promise<number | undefined> {
  const command = buildDirect(commandClass, path, argv, context);
  return command === undefined ? undefined : cli.run(command, context);
}
