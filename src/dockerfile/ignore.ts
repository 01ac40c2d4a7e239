// .dockerignore: one pattern a line, `#` lines are comments, blanks trimmed, each pattern cleaned as Go's
// filepath.Clean does (`./` and a leading `/` dropped, `..` resolved) and matched as Go's filepath.Match
// plus `**` (any number of folders, none included); `!` makes an exception; the last matching line wins;
// a folder that is left out takes everything under it, unless an exception names something inside it.
import path from "node:path";
import { DockerfileError } from "./errors.js";

/** One cleaned pattern. */
export interface IgnorePattern {
  /** The cleaned pattern, without its `!`. */
  pattern: string;
  /** Whether the line began with `!` (an exception: the path is kept). */
  exception: boolean;
  /** The 1-based line of .dockerignore it came from. */
  line: number;
  regex: RegExp;
  /** How many path components the pattern has (a parent at that depth is matched too). */
  depth: number;
}

/** Go's filepath.Clean for slash paths, without a leading slash ("" and "/" give "."). */
export function cleanContextPath(p: string): string {
  let cleaned = path.posix.normalize(p === "" ? "." : p);
  if (cleaned.length > 1 && cleaned.endsWith("/")) cleaned = cleaned.slice(0, -1);
  if (cleaned.length > 1 && cleaned.startsWith("/")) cleaned = cleaned.slice(1);
  return cleaned === "/" ? "." : cleaned;
}

/** The patterns of a .dockerignore text; a malformed pattern is an error naming its line. */
export function parseDockerignore(text: string): IgnorePattern[] {
  const out: IgnorePattern[] = [];
  text.split("\n").forEach((raw, i) => {
    if (raw.startsWith("#")) return;
    let pattern = raw.trim();
    if (pattern === "") return;
    const exception = pattern.startsWith("!");
    if (exception) pattern = pattern.slice(1).trim();
    if (pattern !== "") pattern = cleanContextPath(pattern);
    let regex: RegExp;
    try {
      regex = compile(pattern);
    } catch (error) {
      throw new DockerfileError(
        i + 1,
        `syntax error in pattern "${raw.trim()}": ${(error as Error).message}`,
        {
          cause: error,
          file: ".dockerignore",
        },
      );
    }
    out.push({ pattern, exception, line: i + 1, regex, depth: pattern.split("/").length });
  });
  return out;
}

/** A Go filepath.Match pattern (with `**`) as an anchored regular expression over slash paths. */
function compile(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") i++;
        re += i + 1 >= pattern.length ? ".*" : "(?:.*/)?";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      if (i + 1 >= pattern.length) throw new Error("it ends with an escape character");
      re += escapeRegex(pattern[++i]!);
    } else if (c === "[") {
      const end = classEnd(pattern, i);
      if (end < 0) throw new Error("unterminated character class [");
      re += "[";
      let j = i + 1;
      if (pattern[j] === "!" || pattern[j] === "^") {
        re += "^";
        j++;
      }
      for (; j < end; j++) {
        const d = pattern[j] === "\\" ? pattern[++j]! : pattern[j]!;
        re += d === "-" && pattern[j - 1] !== "\\" ? "-" : /[\]\\^-]/.test(d) ? "\\" + d : d;
      }
      re += "]";
      i = end;
    } else re += escapeRegex(c);
  }
  return new RegExp(re + "$", "s");
}

/** The index of the `]` closing the class opened at `start`, or -1. */
function classEnd(pattern: string, start: number): number {
  let i = start + 1;
  if (pattern[i] === "!" || pattern[i] === "^") i++;
  if (pattern[i] === "]") return -1;
  for (; i < pattern.length; i++) {
    if (pattern[i] === "\\") i++;
    else if (pattern[i] === "]") return i;
  }
  return -1;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? "\\" + c : c;
}

/** Decides which context paths a .dockerignore leaves out, as Docker's context walk does. */
export class IgnoreMatcher {
  private readonly patterns: IgnorePattern[];
  private readonly hasExceptions: boolean;

  constructor(patterns: IgnorePattern[] | string) {
    this.patterns = typeof patterns === "string" ? parseDockerignore(patterns) : patterns;
    this.hasExceptions = this.patterns.some((p) => p.exception);
  }

  /** Whether the context-relative path (either slash form, `./` allowed) is left out of the context. */
  ignores(relativePath: string): boolean {
    const p = cleanContextPath(relativePath);
    if (p === "." || this.patterns.length === 0) return false;
    const parts = p.split("/");
    // A folder left out is not walked into, unless an exception names something under it.
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join("/");
      if (this.matches(dir) && !this.walksInto(dir)) return true;
    }
    return this.matches(p);
  }

  /** Whether an exception (`!` line) may keep something under the context-relative folder `dir`. */
  keepsSomethingUnder(dir: string): boolean {
    return this.walksInto(cleanContextPath(dir));
  }

  /** Docker's rule for one path: the last pattern that matches it (or its parent at the pattern's depth) wins. */
  private matches(p: string): boolean {
    const parts = p.split("/");
    let excluded = false;
    for (const pattern of this.patterns) {
      let hit = pattern.regex.test(p);
      if (!hit && parts.length > 1 && pattern.depth < parts.length) {
        hit = pattern.regex.test(parts.slice(0, pattern.depth).join("/"));
      }
      if (hit) excluded = !pattern.exception;
    }
    return excluded;
  }

  private walksInto(dir: string): boolean {
    if (!this.hasExceptions) return false;
    return this.patterns.some((p) => p.exception && (p.pattern + "/").startsWith(dir + "/"));
  }
}
