// What a command's work needs from the command line around it (global options, config, store, streams,
// error reporting), without clipanion: every command's (src/cli/base.ts), and `burrow run`'s direct path
// (src/cli/run-direct.ts), which runs on this alone.
import { BurrowError, causeChain, describeThrown } from "../errors.js";
import { systemErrorLine } from "../system-error.js";
import { printable, printableStream } from "./printable.js";
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";
import type { OptionTable, OptionValues } from "../option-table.js";
import type { RunHost } from "../run/host.js";

/** The streams and environment a command writes to and reads. */
export interface HostContext {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The global options, valid before the command name and among any command's options. */
export const GLOBAL_OPTIONS = {
  repo: { names: ["--repo"], kind: "string", description: "Use DIR as the store instead of the default one" },
  debug: { names: ["-D", "--debug"], kind: "boolean", description: "Print the cause chain of errors" },
  quiet: {
    names: ["-q", "--quiet"],
    kind: "boolean",
    description: "Print no progress or informational output",
  },
  insecure: {
    names: ["--insecure"],
    kind: "boolean",
    description: "Allow plain HTTP and unverified TLS for every registry",
  },
  offline: {
    names: ["--offline"],
    kind: "boolean",
    description: "Use no network at all: only images already in the store (also BURROW_OFFLINE=1)",
  },
} as const satisfies OptionTable;

/** The global options as given on the command line. */
export type GlobalOptions = OptionValues<typeof GLOBAL_OPTIONS>;

/** What a command's work needs from the command line around it: the run path's host, and info lines. */
export interface CommandHost extends RunHost {
  readonly context: HostContext;
  /** An informational line on stderr unless `--quiet`. */
  info(message: string): void;
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
  const { refuseUdockerRepository } = await import("../store/udocker-repo.js");
  refuseUdockerRepository(config.storeDir, storeSource(config, env ?? process.env));
  openTrustedStore(config.storeDir, trust, status);
  const store = new Store(config.storeDir);
  if (env !== undefined)
    (await import("../run/sweep.js")).sweepAbandonedRuns(store.paths.root, store.paths.tmp, env);
  const { sweepHolds } = await import("../store/holds.js");
  await sweepHolds(store);
  return store;
}

/** Where the store folder was named, in words: `--repo`, `BURROW_DIR`, `UDOCKER_DIR`, the config file, the default. */
function storeSource(config: Config, env: NodeJS.ProcessEnv): string {
  const from = config.sources.storeDir;
  if (from === "flag") return "--repo";
  if (from === "env") return env.BURROW_DIR ? "BURROW_DIR" : "UDOCKER_DIR";
  if (from === "file") return "the config file's storeDir";
  return "the default store";
}

/**
 * The process's own streams and `env`, for a command run without clipanion. The streams are Node's lazy
 * getters (a run that prints nothing never creates them); what burrow writes on them is made printable
 * (the program's own output does not go through them).
 */
export function processContext(env: NodeJS.ProcessEnv): HostContext {
  return {
    env,
    get stdout() {
      return printableStream(process.stdout);
    },
    get stderr() {
      return printableStream(process.stderr);
    },
  };
}

/**
 * The one CommandHost: the services of the global options (configuration, store, warnings, error lines)
 * on a context's streams. Each BurrowCommand holds one (src/cli/base.ts); `burrow run`'s direct path
 * (src/cli/run-direct.ts) makes its own on the process's streams.
 */
export class GlobalHost implements CommandHost {
  #config: Config | undefined;
  readonly debug: boolean;
  readonly quiet: boolean;

  /** `failureStatus`: the command's status when burrow itself fails (failureStatusOf). */
  constructor(
    private readonly options: GlobalOptions,
    readonly context: HostContext,
    private readonly failureStatus: number,
  ) {
    this.debug = options.debug;
    this.quiet = options.quiet;
  }

  async config(): Promise<Config> {
    if (this.#config === undefined) {
      const config = await configFor(this.options, this.context.env);
      // Site stores this user cannot read are passed over, each said once (src/store/site-stores.ts).
      if (config.stores.length > 0) {
        const { readableSiteStores } = await import("../store/site-stores.js");
        config.stores = readableSiteStores(config.stores, (m) => this.warn(m));
      }
      this.#config = config;
    }
    return this.#config;
  }

  async store(): Promise<Store> {
    return storeFor(await this.config(), this.context.env, this.failureStatus);
  }

  warn(message: string): void {
    if (!this.quiet) this.context.stderr.write(`burrow: warning: ${printable(message)}\n`);
  }

  info(message: string): void {
    if (!this.quiet) this.context.stderr.write(`${printable(message)}\n`);
  }

  report(err: unknown): number {
    return reportError(err, this.context.stderr, this.debug, this.failureStatus);
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
