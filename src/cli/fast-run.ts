// `burrow run` without building clipanion's parser: the command line is read against RunCommand's own
// option declarations (the single definition of its options), then the command runs as clipanion would run it.
import { Command } from "clipanion";
import type { Cli, CommandClass } from "clipanion";
import type { BurrowContext } from "./base.js";
import { splitCommandLine } from "./command-line.js";
import type { Declarations, ParseState } from "./command-line.js";

export type { Declarations };

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
      // An optional one after the required ones, as clipanion declares them (`[DEST]`); none before a proxy.
      if (decl.proxy) ok = false;
      if (o.required === false) decl.optional = (decl.optional ?? 0) + 1;
      else if (decl.optional !== undefined) ok = false;
      else decl.positionals++;
    },
    addProxy(): void {
      if (decl.optional !== undefined) ok = false;
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
export async function runWithoutParser(
  cli: Cli<BurrowContext>,
  commandClass: CommandClass<BurrowContext>,
  path: string[],
  argv: string[],
  context: BurrowContext,
): Promise<number | undefined> {
  const command = buildDirect(commandClass, path, argv, context);
  return command === undefined ? undefined : cli.run(command, context);
}
