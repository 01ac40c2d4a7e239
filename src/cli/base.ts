// The base of every command: the global options, and the services of src/cli/host.ts (config, store,
// warnings, one-line error reporting) through the one CommandHost, GlobalHost.
import { Command } from "clipanion";
import type { BaseContext } from "clipanion";
import type { Config } from "../config.js";
import type { Store } from "../store/store.js";
import { GLOBAL_OPTIONS, GlobalHost, failureStatusOf, reportError } from "./host.js";
import type { CommandHost } from "./host.js";
import { withOptions } from "./declared-options.js";

export { failureStatusOf, reportError };

/** What a command gets from the entry point beyond clipanion's streams. */
export interface BurrowContext extends BaseContext {
  env: NodeJS.ProcessEnv;
}

/** Global options (`--repo`, `-D/--debug`, `-q/--quiet`, `--insecure`, `--offline`) and the error contract. */
export abstract class BurrowCommand
  extends withOptions(Command<BurrowContext>, GLOBAL_OPTIONS)
  implements CommandHost
{
  #host: GlobalHost | undefined;

  /** The command's work; returns the exit status. */
  abstract run(): Promise<number>;

  /** This command's services, made once its options are read. */
  private get host(): GlobalHost {
    this.#host ??= new GlobalHost(this, this.context, this.failureStatus());
    return this.#host;
  }

  /** Loads the configuration once: defaults < config file < environment < flags. */
  config(): Promise<Config> {
    return this.host.config();
  }

  /** The store named by the configuration, with its folders created (refused when unsafe: 125 for run/exec, else 1). */
  store(): Promise<Store> {
    return this.host.store();
  }

  /** This command's status when burrow itself fails: 125 for run and exec, 1 for the others. */
  failureStatus(): number {
    return failureStatusOf(this.path);
  }

  /** Prints a warning on stderr unless `--quiet`. */
  warn(message: string): void {
    this.host.warn(message);
  }

  /** Prints an informational line on stderr unless `--quiet`. */
  info(message: string): void {
    this.host.info(message);
  }

  /** Prints `err` as one line (the chain with `--debug`); returns the exit status it calls for. */
  report(err: unknown): number {
    return this.host.report(err);
  }

  async execute(): Promise<number> {
    try {
      return await this.run();
    } catch (err) {
      return this.report(err);
    }
  }
}
