// What a command's work needs from the command line around it (global options, config, store, streams,
// error reporting), without clipanion: `burrow run`'s direct path (src/cli/run-direct.ts) runs on this alone.
import { BurrowError, causeChain, describeThrown } from "../errors.js";
import { systemErrorLine } from "../system-error.js";
import { printable, printableStream } from "./printable.js";
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";

/** The streams and environment a command writes to and reads. */
export interface HostContext {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The global options and services every command has: BurrowCommand is one, RunHost another. */
export interface CommandHost {
  readonly context: HostContext;
  readonly debug: boolean;
  readonly quiet: boolean;
  /** The configuration: defaults < config file < environment < flags. */
  config(): Promise<Config>;
  /** The store named by the configuration, with its folders created. */
  store(): Promise<Store>;
  /** A warning on stderr unless `--quiet`. */
  warn(message: string): void;
  /** An informational line on stderr unless `--quiet`. */
  info(message: string): void;
}

/** The global options as given on the command line. */
export interface GlobalOptions {
  repo: string | undefined;
  debug: boolean;
  quiet: boolean;
  insecure: boolean;
  offline?: boolean;
}

/** Loads the configuration for the global options (defaults < config file < environment < flags). */
export async function configFor(options: GlobalOptions, env: NodeJS.ProcessEnv): Promise<Config> {
  const { loadConfig } = await import("../config.js");
  return loadConfig({ repo: options.repo, insecure: options.insecure, offline: options.offline }, env);
}

/**
 * The store of a configuration, its folders created, refused when someone else could write it
 * (src/store/trust.ts; `status`: the refusal's exit status, 125 for run and exec, else 1). With `env`,
 * the first call in a process also removes what killed runs left there and in the scratch base of
 * `env` (src/run/sweep.ts), then the images removed while dead runs held them (src/store/holds.ts).
 */
export async function storeFor(config: Config, env?: NodeJS.ProcessEnv, status = 1): Promise<Store> {
  const { Store } = await import("../store/store.js");
  const { openTrustedStore, processTrust } = await import("../store/trust.js");
  const trust = processTrust(config.sharedGroup, status);
  openTrustedStore(config.storeDir, trust, status);
  const store = new Store(config.storeDir);
  if (env !== undefined)
    (await import("../run/sweep.js")).sweepAbandonedRuns(store.paths.root, store.paths.tmp, env);
  const { sweepHolds } = await import("../store/holds.js");
  await sweepHolds(store);
  return store;
}

/** A CommandHost on the process's own streams, for commands run without clipanion. */
export class ProcessHost implements CommandHost {
  private cachedConfig: Config | undefined;
  readonly debug: boolean;
  readonly quiet: boolean;

  constructor(
    private readonly options: GlobalOptions,
    env: NodeJS.ProcessEnv,
  ) {
    this.debug = options.debug;
    this.quiet = options.quiet;
    // The streams are Node's lazy getters: a run that prints nothing never creates them. What burrow
    // writes on them is made printable (the program's own output does not go through them).
    this.context = {
      env,
      get stdout() {
        return printableStream(process.stdout);
      },
      get stderr() {
        return printableStream(process.stderr);
      },
    };
  }

  readonly context: HostContext;

  async config(): Promise<Config> {
    this.cachedConfig ??= await configFor(this.options, this.context.env);
    return this.cachedConfig;
  }

  async store(): Promise<Store> {
    // Only `burrow run` comes this way: its own failures exit 125.
    return storeFor(await this.config(), this.context.env, 125);
  }

  warn(message: string): void {
    if (!this.quiet) this.context.stderr.write(`burrow: warning: ${printable(message)}\n`);
  }

  info(message: string): void {
    if (!this.quiet) this.context.stderr.write(`${printable(message)}\n`);
  }
}

/**
 * The status a command exits with when burrow itself fails, as docker and udocker give it (DESIGN.md):
 * 125 for `run` and `exec` (whose other statuses are the program's), 1 for every other command.
 */
export function failureStatusOf(path: readonly string[]): number {
  const words = path.filter((w) => w !== "burrow" && w !== "udocker");
  // docker's group spellings: `container exec` is exec.
  const word = words[0] === "container" || words[0] === "image" ? words[1] : words[0];
  return word === "run" || word === "exec" ? 125 : 1;
}

/** The --debug cause chain, each of its lines printable. */
function printableChain(err: unknown): string {
  return causeChain(err).map(printable).join("\n") + "\n";
}

/**
 * Prints one line for the user (the chain with --debug) and returns the exit status to use: the error's
 * own for burrow's errors, `failureStatus` (burrow's own failure in this command) for a failed system
 * call, 125 for a usage error. Anything else is a bug in burrow, and the line says so and what to report.
 * Messages carry what registries, images and users gave (names, reason phrases): they are printed
 * printable, on one line.
 */
export function reportError(
  err: unknown,
  stderr: NodeJS.WritableStream,
  debug: boolean,
  failureStatus = 125,
): number {
  if (err instanceof BurrowError) {
    stderr.write(`burrow: ${printable(err.message)}\n`);
    if (debug) stderr.write(printableChain(err));
    return err.exitCode ?? failureStatus;
  }
  const e = err as { name?: string; message?: string; clipanion?: unknown };
  if (e && e.name === "UsageError") {
    stderr.write(`burrow: ${printable(e.message ?? String(err))}\n`);
    return 125;
  }
  const line = systemErrorLine(err);
  if (line !== undefined) {
    stderr.write(`burrow: ${printable(line)}\n`);
    if (debug) stderr.write(printableChain(err));
    return failureStatus;
  }
  const what = (err instanceof Error ? err.message : describeThrown(err)).split("\n")[0]!;
  stderr.write(
    `burrow: internal error (a bug in burrow): ${printable(what)}; please report it with the output of the same command run with --debug\n`,
  );
  if (debug) stderr.write(printableChain(err));
  return failureStatus;
}
