// Parser directives (`# escape=`, `# syntax=`, `# check=`): only at the very top, before any comment, empty
// line or instruction; the name is case-insensitive; an unknown directive is a comment and ends the top.
import { DockerfileError } from "./errors.js";

/** What the directives at the top of a Dockerfile set. */
export interface Directives {
  /** The escape character: a backslash (default) or a backtick. */
  escape: "\\" | "`";
  /** The `syntax` frontend asked for, kept as written (burrow reads the Dockerfile itself). */
  syntax?: string;
  /** The `check` directive, kept as written. */
  check?: string;
  /** How many lines at the top are directives (the instructions start after them). */
  lines: number;
}

const KNOWN = new Set(["escape", "syntax", "check"]);
const DIRECTIVE = /^#[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;

/** Reads the parser directives from the first lines; throws on a repeated directive or a bad escape. */
export function readDirectives(lines: readonly string[]): Directives {
  const found: Directives = { escape: "\\", lines: 0 };
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!.replace(/\r$/, ""));
    if (!m) break;
    const name = m[1]!.toLowerCase();
    if (!KNOWN.has(name)) break;
    const value = m[2]!;
    if (seen.has(name)) throw new DockerfileError(i + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === "escape") {
      if (value !== "\\" && value !== "`") {
        throw new DockerfileError(i + 1, `invalid escape token '${value}' does not match ` + "` or \\");
      }
      found.escape = value;
    } else if (name === "syntax") found.syntax = value;
    else found.check = value;
    found.lines = i + 1;
  }
  return found;
}
