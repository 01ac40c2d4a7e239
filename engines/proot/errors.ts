// The proot engine's errors: an option PRoot cannot honour, and a run it cannot set up.
import { BurrowError } from "../../src/errors.js";

/** A run option the proot engine cannot honour; the message names the engine, the option and what to do. */
export class ProotOptionError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ENGINE_OPTION", message, options);
  }
}

/** The proot engine could not prepare or start the run (a missing working directory, a bad path). */
export class ProotRunError extends BurrowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ERR_ENGINE_RUN", message, options);
  }
}
