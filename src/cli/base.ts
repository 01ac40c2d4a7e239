// The base of every command: the global options, config loading, and one-line error reporting.
import { Command, Option } from "clipanion";
import type { BaseContext } from "clipanion";
import { BurrowError, causeChain } from "../errors.js";
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";

/** What a command gets from the entry point beyond clipanion's streams. */
export interface BurrowContext extends BaseContext {
  env: NodeJS.ProcessEnv;
}

/** Global options (`--repo`, `-D/--debug`, `-q/--quiet`, `--insecure`) and the error contract. */
export abstract class BurrowCommand extends Command<BurrowContext> {
  repo = Option.String("--repo", { description: "Use DIR as the store instead of the default one" });
  debug = Option.Boolean("-D,--debug", false, { description: "Print the cause chain of errors" });
  quiet = Option.Boolean("-q,--quiet", false, { description: "Print no progress or informational output" });
  insecure = Option.Boolean("--insecure", false, {
    description: "Allow plain HTTP and unverified TLS for every registry",
  });

  private cachedConfig: Config | undefined;

  /** The command's work; returns the exit status. */
  abstract run(): Promise<number>;

  /** Loads the configuration once: defaults < config file < environment < flags. */
  async config(): Promise<Config> {
    if (!this.cachedConfig) {
      const { loadConfig } = await import("../config.js");
      this.cachedConfig = await loadConfig({ repo: this.repo, insecure: this.insecure }, this.context.env);
    }
    return this.cachedConfig;
  }

  /** The store named by the configuration, with its folders created. */
  async store(): Promise<Store> {
    const config = await this.config();
    const { Store } = await import("../store/store.js");
    return new Store(config.storeDir).init();
  }

  /** Prints a warning on stderr unless `--quiet`. */
  warn(message: string): void {
    if (!this.quiet) this.context.stderr.write(`burrow: warning: ${message}\n`);
  }

  /** Prints an informational line on stderr unless `--quiet`. */
  info(message: string): void {
    if (!this.quiet) this.context.stderr.write(`${message}\n`);
  }

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (err) {
      return reportError(err, this.context.stderr, this.debug);
    }
  }
}

/** Prints one line for the user (the chain with --debug) and returns the exit status to use. */
export function reportError(err: unknown, stderr: NodeJS.WritableStream, debug: boolean): number {
  if (err instanceof BurrowError) {
    stderr.write(`burrow: ${err.message}\n`);
    if (debug) stderr.write(causeChain(err).join("\n") + "\n");
    return err.exitCode;
  }
  const e = err as { name?: string; message?: string; clipanion?: unknown };
  if (e && e.name === "UsageError") {
    stderr.write(`burrow: ${e.message ?? String(err)}\n`);
    return 125;
  }
  stderr.write(`burrow: internal error: ${e?.message ?? String(err)} (run with --debug for details)\n`);
  if (debug) stderr.write(causeChain(err).join("\n") + "\n");
  return 125;
}
