// The error of a RUN step that failed: the step, its status and its last lines of output, on one line.
import { BurrowError } from "../errors.js";
import type { RunStepOutcome } from "./run-step.js";

/** Docker's status for a build whose RUN failed (burrow's own failures give 125). */
export const RUN_FAILED_STATUS = 1;

/** A RUN step exited with a status other than 0. */
export class RunFailedError extends BurrowError {
  readonly status: number;

  constructor(file: string, line: number, text: string, outcome: RunStepOutcome) {
    const step = text.replace(/\s+/g, " ").trim();
    const shown = step.length > 120 ? `${step.slice(0, 117)}...` : step;
    const tail = outcome.tail.map((l) => l.trim()).filter((l) => l !== "");
    const said = tail.length > 0 ? `; its last output: ${tail.join(" | ")}` : "";
    super(
      "ERR_BUILD_RUN",
      `${file} line ${line}: ${shown}: the command exited with status ${outcome.status}${said}`,
      { exitCode: RUN_FAILED_STATUS },
    );
    this.status = outcome.status;
  }
}
