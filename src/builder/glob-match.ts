// COPY/ADD source wildcards: one path component matched as Go's filepath.Match does (`*`, `?`, `[...]` with
// `^` negation and ranges, `\` escaping the next character; a malformed pattern is an error).

/** Whether the path component holds an unescaped `*`, `?` or `[` (Docker's containsWildcards). */
export function hasGlob(component: string): boolean {
  for (let i = 0; i < component.length; i++) {
    const c = component[i];
    if (c === "\\") i++;
    else if (c === "*" || c === "?" || c === "[") return true;
  }
  return false;
}

/** A component pattern that Go's filepath.Match would reject (ErrBadPattern). */
export class BadPatternError extends Error {}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(c) ? "\\" + c : c;
}

/** Compiles one component pattern into an anchored regular expression; throws BadPatternError. */
export function compileGlob(pattern: string): RegExp {
  const chars = Array.from(pattern);
  let re = "^";
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      if (i + 1 >= chars.length) throw new BadPatternError("it ends with a backslash");
      re += escapeRegex(chars[++i]!);
    } else if (c === "[") {
      i++;
      let cls = "[";
      if (chars[i] === "^") {
        cls += "^";
        i++;
      }
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) throw new BadPatternError("a [ class is not closed");
        if (chars[i] === "]" && ranges > 0) break;
        const lo = classChar(chars, i);
        i = lo.next;
        let item = escapeRegex(lo.char);
        if (chars[i] === "-") {
          const hi = classChar(chars, i + 1);
          i = hi.next;
          // A reversed range matches nothing in Go (and is a syntax error in a RegExp): it is left out.
          item = hi.char < lo.char ? "" : item + "-" + escapeRegex(hi.char);
        }
        cls += item;
        ranges++;
      }
      re += cls + "]";
    } else re += escapeRegex(c);
  }
  return new RegExp(re + "$", "su");
}

/** One character of a class at `i` (Go's getEsc): `\` escapes; a bare `-` or `]` there is malformed. */
function classChar(chars: string[], i: number): { char: string; next: number } {
  let c = chars[i];
  if (c === undefined || c === "-" || c === "]") throw new BadPatternError("a [ class is malformed");
  if (c === "\\") {
    c = chars[++i];
    if (c === undefined) throw new BadPatternError("a [ class is malformed");
  }
  if (i + 1 >= chars.length) throw new BadPatternError("a [ class is not closed");
  return { char: c, next: i + 1 };
}

/** Whether the name matches the component pattern, as Go's filepath.Match. */
export function matchGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern).test(name);
}
