// Word-level helpers of the Dockerfile parser: the leading --flags, JSON arrays, quote-aware words and
// the key=value lists of ENV, LABEL and ARG.
import { DockerfileError } from "./errors.js";

/** The flags found before an instruction's arguments, by name (a bare `--link` has the value ""). */
export type Flags = Map<string, string>;

/** Splits on unquoted blanks, keeping quotes and escapes inside the words (substitution removes them). */
export function splitWords(text: string, escape: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === escape && quote !== "'" && i + 1 < text.length) {
      word += c + text[i + 1]!;
      i++;
      inWord = true;
      continue;
    }
    if (quote !== "") {
      if (c === quote) quote = "";
      word += c;
      continue;
    }
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    word += c;
    inWord = true;
  }
  if (inWord) words.push(word);
  return words;
}

/** Takes the leading `--name[=value]` words off an instruction's arguments. */
export function extractFlags(rest: string, escape: string): { flags: Flags; rest: string } {
  const flags: Flags = new Map();
  let text = rest.trimStart();
  for (;;) {
    if (!text.startsWith("--")) break;
    const word = splitWords(text, escape)[0] ?? "";
    if (word === "--") {
      text = text.slice(2).trimStart();
      break;
    }
    const eq = word.indexOf("=");
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    flags.set(name.toLowerCase(), eq < 0 ? "" : unquote(word.slice(eq + 1)));
    text = text.slice(word.length).trimStart();
  }
  return { flags, rest: text };
}

/** A flag value without its surrounding quotes. */
function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    return value.slice(1, -1);
  }
  return value;
}

/** Checks that only the named flags were given; refused ones get their own message (burrow lacks them). */
export function checkFlags(
  keyword: string,
  flags: Flags,
  line: number,
  allowed: readonly string[],
  refused: readonly string[] = [],
): void {
  for (const name of flags.keys()) {
    if (refused.includes(name)) {
      throw new DockerfileError(line, `${keyword} --${name} is not supported by burrow`);
    }
    if (!allowed.includes(name)) throw new DockerfileError(line, `unknown flag for ${keyword}: --${name}`);
  }
}

/** The strings of a JSON array of strings, or undefined when the text is not one (Docker's exec form). */
export function parseJsonArray(text: string): string[] | undefined {
  if (!text.startsWith("[")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) return undefined;
  return value as string[];
}

/** One `key=value` of ENV or LABEL, both still raw (quotes and variables are resolved on substitution). */
export interface KeyValue {
  key: string;
  value: string;
}

/** Parses `K=V ...` (or the legacy `K V`, where V is the rest of the line) of ENV and LABEL. */
export function parseKeyValues(keyword: string, rest: string, line: number, escape: string): KeyValue[] {
  const words = splitWords(rest, escape);
  if (words.length === 0) throw new DockerfileError(line, `${keyword} requires at least one argument`);
  if (!words[0]!.includes("=")) {
    // The legacy form `ENV key value`: one pair, the value is everything after the first blank.
    const m = /^(\S+)[ \t]+(.*)$/.exec(rest.trim());
    if (!m)
      throw new DockerfileError(
        line,
        `${keyword} must have two arguments (${keyword} key value or key=value)`,
      );
    return [{ key: m[1]!, value: m[2]! }];
  }
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq < 0) {
      throw new DockerfileError(
        line,
        `${keyword}: can't find = in "${word}"; must be of the form name=value`,
      );
    }
    if (eq === 0) throw new DockerfileError(line, `${keyword} names can not be blank`);
    return { key: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}
