// Reads a Dockerfile's text into its directives and instructions (pure: no files, no variables resolved).
import { readDirectives } from "./directives.js";
import { logicalLines } from "./lines.js";
import { parseInstruction } from "./parse-instruction.js";
import { DockerfileError } from "./errors.js";
import type { Dockerfile } from "./instructions.js";

/** Parses a Dockerfile; throws DockerfileError naming the line of the first mistake (and `file`, if given). */
export function parseDockerfile(text: string, file?: string): Dockerfile {
  try {
    return parseText(text);
  } catch (error) {
    if (file === undefined || !(error instanceof DockerfileError)) throw error;
    const message = error.message.replace(/^Dockerfile( line \d+)?: /, "");
    throw new DockerfileError(error.line, message, {
      file,
      ...(error.cause === undefined ? {} : { cause: error.cause }),
    });
  }
}

function parseText(text: string): Dockerfile {
  const physical = text.replace(/^\uFEFF/, "").split("\n");
  const directives = readDirectives(physical);
  const instructions = logicalLines(physical, directives).map((l) => parseInstruction(l, directives.escape));
  if (instructions.length === 0) throw new DockerfileError(0, "the Dockerfile is empty (no instructions)");
  return {
    escape: directives.escape,
    ...(directives.syntax === undefined ? {} : { syntax: directives.syntax }),
    instructions,
  };
}
