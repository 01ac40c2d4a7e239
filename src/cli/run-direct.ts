// `burrow run` without clipanion: bundled alone into run.cjs (src/build/bundle.ts), which the launcher
// loads for `run` command lines, so that a run loads neither the CLI framework nor the other commands.
// It reads the plain forms of the command line with the tables RunCommand's options come from
// (GLOBAL_OPTIONS, RUN_OPTIONS; test/unit/cli/run-options.test.ts checks that each reaches both); for
// anything else (`--help`, a usage error, a form it does not read, `-d`, an image to pull) it answers
// undefined and the launcher runs the whole CLI instead.
import { isatty } from "node:tty";
import { GLOBAL_OPTIONS, GlobalHost, failureStatusOf, processContext } from "./host.js";
import type { GlobalOptions } from "./host.js";
import { isPullPolicy, requestFrom, RUN_OPTIONS } from "../run/options.js";
import type { RunFields } from "../run/options.js";
import { defaultValues } from "../option-table.js";
import type { OptionDecl } from "../option-table.js";
import { splitCommandLine } from "./command-line.js";
import type { Declarations } from "./command-line.js";
import { hoistGlobalOptions } from "./hoist.js";
import { imageSource } from "./run-images.js";
import { ReplayRecorder } from "../run/replay-record.js";

/** A `burrow run` command line, read. */
export interface ParsedRun {
  globals: GlobalOptions;
  fields: RunFields;
}

/** Each option name (global or `run`'s) with its field and declaration. */
const byName = new Map<string, [string, OptionDecl]>(
  Object.entries({ ...GLOBAL_OPTIONS, ...RUN_OPTIONS }).flatMap(([key, o]) =>
    o.names.map((n) => [n, [key, o]] as const),
  ),
);

/** `burrow run`'s options (its own and the global ones), IMAGE, then COMMAND [ARG...] as they are. */
const RUN_DECLARATIONS: Declarations = {
  options: new Map(
    [...byName].map(([name, [, o]]) => [name, { arity: o.kind === "boolean" ? 0 : 1, allowBinding: true }]),
  ),
  positionals: 1,
  proxy: true,
};

/**
 * Reads `argv` (the words after `burrow`: global options, `run`, its options, IMAGE, COMMAND...) as
 * clipanion reads it for the plain forms: `--name VALUE`, `--name=VALUE`, `-n VALUE`, flags, batched short
 * flags (`-it`). Undefined for anything else, which clipanion then parses and, where wrong, explains.
 */
export function parseRunCommandLine(argv: string[]): ParsedRun | undefined {
  const words = hoistGlobalOptions(argv);
  if (words[0] !== "run") return undefined;
  const state = splitCommandLine(RUN_DECLARATIONS, words.slice(1));
  if (state === undefined) return undefined;
  const globals = defaultValues(GLOBAL_OPTIONS);
  const options = defaultValues(RUN_OPTIONS);
  for (const o of state.options) {
    const [key, decl] = byName.get(o.name)!;
    const values = (key in GLOBAL_OPTIONS ? globals : options) as Record<string, unknown>;
    if (decl.kind === "array") (values[key] as string[]).push(o.value as string);
    else values[key] = o.value;
  }
  const [target, ...args] = state.positionals.map((p) => p.value);
  return { globals, fields: { ...options, target, args } };
}

/** Thrown by run.cjs's pull: a run whose image must be pulled is handed to the whole CLI (see below). */
class PullInWholeCli extends Error {}

/**
 * run.cjs's entry (src/cli/launch.ts): runs the `burrow run` command line `argv` without clipanion;
 * resolves to the exit status, or to undefined when the whole CLI is to handle it instead (a command line
 * this reader does not take, `-d`, or an image to pull).
 */
export async function runWithoutClipanion(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<number | undefined> {
  const parsed = parseRunCommandLine(argv);
  if (parsed === undefined || !isPullPolicy(parsed.fields.pull)) return undefined;
  // -d is not start-up critical: the whole CLI runs it (src/run/detach.ts).
  if (parsed.fields.detach) return undefined;
  // What this run reads is watched, so that the next one with the same command line starts without
  // Node (src/run/replay-record.ts); not with --debug, whose lines a replay would not print.
  const replay = parsed.globals.debug ? undefined : ReplayRecorder.start(argv, env);
  const host = new GlobalHost(
    parsed.globals,
    processContext(replay?.watchedEnv ?? env),
    failureStatusOf(["run"]),
  );
  // As in the whole CLI (src/cli/main.ts): whatever escapes is still one line and status 125.
  const fatal = (err: unknown): void => {
    process.exitCode = host.report(err);
    process.exit();
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  // The registry client and the pull's progress display stay out of run.cjs, which a run of an image in the
  // store reads and compiles at every start: a pull is the whole CLI's, which starts the command again from
  // the top (nothing before the pull has changed anything).
  const images = imageSource(
    () => {
      throw new PullInWholeCli("the pull is made by the whole CLI");
    },
    async () => (await host.config()).stores,
  );
  try {
    const { runRequest } = await import("../run/run-request.js");
    const request = requestFrom(parsed.fields, isatty(0));
    return await runRequest(host, replay !== undefined ? { ...request, replay } : request, images);
  } catch (err) {
    if (err instanceof PullInWholeCli) return undefined;
    return host.report(err);
  } finally {
    replay?.finish();
    process.removeListener("uncaughtException", fatal);
    process.removeListener("unhandledRejection", fatal);
  }
}
