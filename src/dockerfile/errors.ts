// The error a Dockerfile or .dockerignore mistake raises: one line naming the file's line and what is wrong.
import { BurrowError } from "../errors.js";

/** A Dockerfile that burrow cannot read or does not support; `line` is 1-based, 0 when no line is to blame. */
export class DockerfileError extends BurrowError {
  readonly line: number;

  constructor(line: number, message: string, options?: { cause?: unknown; file?: string }) {
    const where =
      line > 0 ? `${options?.file ?? "Dockerfile"} line ${line}: ` : `${options?.file ?? "Dockerfile"}: `;
    super("ERR_DOCKERFILE", where + message, {
      exitCode: 125,
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
    });
    this.line = line;
    this.detail = message;
  }

  /** What is wrong, without the file and line. */
  readonly detail: string;

  /** The same error naming `file` (a Dockerfile given with -f) instead of the file it named. */
  inFile(file: string): DockerfileError {
    return new DockerfileError(this.line, this.detail, { file, cause: this.cause ?? this });
  }
}
