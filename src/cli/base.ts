// The base of every command: the global options, config loading, and one-line error reporting.
import { Command, Option } from "clipanion";
import type { BaseContext } from "clipanion";
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";
import { configFor, failureStatusOf, reportError, storeFor } from "./host.js";
import type { CommandHost } from "./host.js";
import { printable } from "./printable.js";

export { failureStatusOf, reportError };

/** What a command gets from the entry point beyond clipanion's streams. */
export interface BurrowContext extends BaseContext {
  env: NodeJS.ProcessEnv;
}

/** Global options (`--repo`, `-D/--debug`, `-q/--quiet`, `--insecure`, `--offline`) and the error contract. */
export abstract class BurrowCommand extends Command<BurrowContext> implements CommandHost {
  repo = Option.String("--repo", { description: "Use DIR as the store instead of the default one" });
  debug = Option.Boolean("-D,--debug", false, { description: "Print the cause chain of errors" });
  quiet = Option.Boolean("-q,--quiet", false, { description: "Print no progress or informational output" });
  insecure = Option.Boolean("--insecure", false, {
    description: "Allow plain HTTP and unverified TLS for every registry",
  });
  offline = Option.Boolean("--offline", false, {
    description: "Use no network at all: only images already in the store (also BURROW_OFFLINE=1)",
  });

  private cachedConfig: Config | undefined;

  /** The command's work; returns the exit status. */
  abstract run(): Promise<number>;

  /** Loads the configuration once: defaults < config file < environment < flags. */
  async config(): Promise<Config> {
    this.cachedConfig ??= await configFor(this, this.context.env);
    return this.cachedConfig;
  }

  /** The store named by the configuration, with its folders created (refused when unsafe: 125 for run/exec, else 1). */
  async store(): Promise<Store> {
    return storeFor(await this.config(), this.context.env, this.failureStatus());
  }

  /** This command's status when burrow itself fails: 125 for run and exec, 1 for the others. */
  failureStatus(): number {
    return failureStatusOf(this.path);
  }

  /** Prints a warning on stderr unless `--quiet`. */
  warn(message: string): void {
    if (!this.quiet) this.context.stderr.write(`burrow: warning: ${printable(message)}\n`);
  }

  /** Prints an informational line on stderr unless `--quiet`. */
  info(message: string): void {
    if (!this.quiet) this.context.stderr.write(`${printable(message)}\n`);
  }

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (err) {
      return reportError(err, this.context.stderr, this.debug, this.failureStatus());
    }
  }
}
