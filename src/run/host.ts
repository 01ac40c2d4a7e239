// What the run path takes from the command that starts it: the command's services (configuration, store,
// output) and how images are found and pulled. The CLI passes them in (src/cli/host.ts, src/cli/run-images.ts):
// src/run/ imports nothing of src/cli/.
import type { Config } from "../config.js";
import type { ImageRecord, Store } from "../store/store.js";

/** The services of the command that runs: its streams and environment, global options, config and store. */
export interface RunHost {
  readonly context: {
    env: NodeJS.ProcessEnv;
    stdout: NodeJS.WritableStream;
    stderr: NodeJS.WritableStream;
  };
  readonly debug: boolean;
  readonly quiet: boolean;
  /** The configuration: defaults < config file < environment < flags. */
  config(): Promise<Config>;
  /** The store named by the configuration, with its folders created. */
  store(): Promise<Store>;
  /** A warning on stderr unless `--quiet`. */
  warn(message: string): void;
  /** Prints `err` as one line (its cause chain with `--debug`); returns the exit status it calls for. */
  report(err: unknown): number;
}

/** How the run path gets the image a reference names. */
export interface ImageSource {
  /** The image `reference` names in the store (local names and ids first), or undefined. */
  find(store: Store, reference: string): Promise<ImageRecord | undefined>;
  /** Pulls `reference` into the store (for `platform`, else the host's). */
  pull(reference: string, platform: string | undefined): Promise<ImageRecord>;
}
