// Variable substitution as Docker's builder does it in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER,
// VOLUME, WORKDIR and ARG defaults: $var, ${var}, ${var:-word}, ${var-word}, ${var:+word}, ${var+word},
// ${var:?message}, ${var?message}, and (Dockerfile syntax 1.7) ${var#glob}, ${var##glob}, ${var%glob},
// ${var%%glob}, ${var/glob/text}, ${var//glob/text}; 'single quotes' keep text literal, "double quotes" still substitute, and
// the escape character makes the next character literal. Quotes are removed from the result.

/** The value a name has in the step (ENV over ARG), or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** A substitution that cannot be done: an unclosed quote or brace, a ${var?message}, an unknown modifier. */
export class SubstitutionError extends Error {}

interface Piece {
  text: string;
  /** Whether the text came from an unquoted expansion (ProcessWords splits it on blanks). */
  split: boolean;
  /** Whether it is one bare character (not quoted, escaped or expanded): a glob character in a pattern. */
  bare?: boolean;
}

/** One word: the text with variables replaced and quotes and escapes removed. */
export function substituteWord(text: string, lookup: Lookup, escape: string): string {
  return new Lexer(text, lookup, escape)
    .pieces(undefined)
    .map((p) => p.text)
    .join("");
}

/** Several words (EXPOSE): split on unquoted blanks, including those that a variable's value brings. */
export function substituteWords(text: string, lookup: Lookup, escape: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (const piece of new Lexer(text, lookup, escape).pieces(undefined, true)) {
    if (!piece.split) {
      word += piece.text;
      inWord = true;
      continue;
    }
    for (const c of piece.text) {
      if (c === " " || c === "\t" || c === "\n") {
        if (inWord) words.push(word);
        word = "";
        inWord = false;
      } else {
        word += c;
        inWord = true;
      }
    }
  }
  if (inWord) words.push(word);
  return words;
}

class Lexer {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly lookup: Lookup,
    private readonly escape: string,
  ) {}

  /** Reads up to `stop` (a `}` closing a ${...} word) or the end; `blanks` marks unquoted blanks as split points. */
  pieces(stop: string | undefined, blanks = false): Piece[] {
    // `stop` holds the characters that end the word (`}`, or `/` and `}` in a ${var/glob/text} pattern).
    const out: Piece[] = [];
    const add = (text: string, split = false): void => {
      out.push({ text, split });
    };
    while (this.at < this.text.length) {
      const c = this.text[this.at]!;
      if (stop !== undefined && stop.includes(c)) return out;
      if (c === this.escape) {
        this.at++;
        if (this.at < this.text.length) add(this.text[this.at++]!);
        else add(c);
      } else if (c === "'") {
        const end = this.text.indexOf("'", this.at + 1);
        if (end < 0)
          throw new SubstitutionError("unexpected end of statement while looking for matching single-quote");
        add(this.text.slice(this.at + 1, end));
        this.at = end + 1;
      } else if (c === '"') {
        this.at++;
        add(this.doubleQuoted());
      } else if (c === "$") {
        add(this.dollar(), true);
      } else {
        this.at++;
        out.push({ text: c, split: blanks && (c === " " || c === "\t"), bare: true });
      }
    }
    if (stop !== undefined) throw new SubstitutionError("missing '}' in a ${...} substitution");
    return out;
  }

  private doubleQuoted(): string {
    let out = "";
    while (this.at < this.text.length) {
      const c = this.text[this.at]!;
      if (c === '"') {
        this.at++;
        return out;
      }
      if (c === this.escape) {
        const next = this.text[this.at + 1];
        if (next === '"' || next === "$" || next === this.escape) {
          out += next;
          this.at += 2;
          continue;
        }
        out += c;
        this.at++;
      } else if (c === "$") out += this.dollar();
      else {
        out += c;
        this.at++;
      }
    }
    throw new SubstitutionError("unexpected end of statement while looking for matching double-quote");
  }

  /** At a `$`: a name, a ${...} form, or a literal dollar sign. */
  private dollar(): string {
    this.at++;
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.at))?.[0];
    if (name !== undefined) {
      this.at += name.length;
      return this.lookup(name) ?? "";
    }
    if (this.text[this.at] !== "{") return "$";
    this.at++;
    const inner = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.at))?.[0];
    if (inner === undefined)
      throw new SubstitutionError("bad substitution: a ${...} must start with a variable name");
    this.at += inner.length;
    const value = this.lookup(inner);
    if (this.text[this.at] === "}") {
      this.at++;
      return value ?? "";
    }
    if (this.at >= this.text.length) throw new SubstitutionError("missing '}' in a ${...} substitution");
    const pattern = /^(##?|%%?|\/\/?)/.exec(this.text.slice(this.at))?.[0];
    if (pattern !== undefined) {
      this.at += pattern.length;
      return this.patternOp(pattern, value ?? "");
    }
    const modifier = /^:?[-+?]/.exec(this.text.slice(this.at))?.[0];
    if (modifier === undefined) {
      throw new SubstitutionError(
        `unsupported modifier (${this.text[this.at]!}) in substitution of ${inner}`,
      );
    }
    this.at += modifier.length;
    const word = this.pieces("}")
      .map((p) => p.text)
      .join("");
    this.at++; // the closing brace
    const set = modifier.startsWith(":") ? value !== undefined && value !== "" : value !== undefined;
    switch (modifier.at(-1)) {
      case "-":
        return set ? value! : word;
      case "+":
        return set ? word : "";
      default:
        if (!set) throw new SubstitutionError(`${inner}: ${word === "" ? "is not set" : word}`);
        return value!;
    }
  }

  /** ${var#glob} and ${var##glob} (prefix), ${var%glob} and ${var%%glob} (suffix), ${var/glob/text} and //. */
  private patternOp(op: string, value: string): string {
    const replace = op.startsWith("/");
    const glob = globRegex(this.pieces(replace ? "/}" : "}"));
    let text = "";
    if (replace && this.text[this.at] === "/") {
      this.at++;
      text = this.pieces("}")
        .map((p) => p.text)
        .join("");
    }
    if (this.text[this.at] !== "}") throw new SubstitutionError("missing '}' in a ${...} substitution");
    this.at++;
    const n = value.length;
    switch (op) {
      case "#":
        for (let k = 0; k <= n; k++) if (glob.test(value.slice(0, k))) return value.slice(k);
        return value;
      case "##":
        for (let k = n; k >= 0; k--) if (glob.test(value.slice(0, k))) return value.slice(k);
        return value;
      case "%":
        for (let k = n; k >= 0; k--) if (glob.test(value.slice(k))) return value.slice(0, k);
        return value;
      case "%%":
        for (let k = 0; k <= n; k++) if (glob.test(value.slice(k))) return value.slice(0, k);
        return value;
      default: {
        // The longest match at the first place one starts; `//` replaces every match.
        let out = "";
        let i = 0;
        let replaced = false;
        while (i < n) {
          let end = -1;
          if (!replaced || op === "//")
            for (let j = n; j > i; j--)
              if (glob.test(value.slice(i, j))) {
                end = j;
                break;
              }
          if (end < 0) {
            out += value[i++];
            continue;
          }
          out += text;
          i = end;
          replaced = true;
        }
        return out;
      }
    }
  }
}

/** A shell glob (`*`, `?`, `[...]`; quoted or escaped text is literal) as an anchored regular expression. */
function globRegex(pieces: Piece[]): RegExp {
  let re = "";
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!;
    if (piece.bare === true && piece.text === "*") re += ".*";
    else if (piece.bare === true && piece.text === "?") re += ".";
    else if (piece.bare === true && piece.text === "[") {
      const close = pieces.findIndex((p, j) => j > i + 1 && p.bare === true && p.text === "]");
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = pieces
        .slice(i + 1, close)
        .map((p) => p.text)
        .join("");
      if (body.startsWith("!")) body = "^" + body.slice(1);
      re += "[" + body.replace(/[\\\]]/g, "\\$&") + "]";
      i = close;
    } else re += piece.text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  try {
    return new RegExp("^" + re + "$", "s");
  } catch {
    throw new SubstitutionError("bad pattern in a ${...} substitution");
  }
}
