// Logical lines of a Dockerfile: comments and blank lines dropped, continuations (the escape character at
// the end of a line) joined as Docker joins them, with no separator, each line kept with where it starts.
import type { Directives } from "./directives.js";

/** One instruction's text as written, its continuations joined. */
export interface LogicalLine {
  /** The 1-based line the instruction starts on. */
  line: number;
  /** The 1-based line it ends on (after its continuations). */
  endLine: number;
  /** The joined text, leading and trailing blanks trimmed. */
  text: string;
}

const COMMENT = /^[ \t]*#/;
const BLANK = /^[ \t]*$/;

/** Splits a Dockerfile (its directives already read) into logical lines. */
export function logicalLines(physical: readonly string[], directives: Directives): LogicalLine[] {
  const out: LogicalLine[] = [];
  const continuation = directives.escape === "`" ? /`[ \t]*$/ : /\\[ \t]*$/;
  let i = directives.lines;
  while (i < physical.length) {
    const first = physical[i]!.replace(/\r$/, "");
    const start = i + 1;
    i++;
    if (COMMENT.test(first) || BLANK.test(first)) continue;
    let text = first.replace(/^[ \t]+/, "");
    let open = continuation.test(text);
    if (open) text = text.replace(continuation, "");
    let end = start;
    // Inside a continuation, comment lines and empty lines are skipped (Docker warns about the latter).
    while (open && i < physical.length) {
      const next = physical[i]!.replace(/\r$/, "");
      i++;
      if (COMMENT.test(next) || BLANK.test(next)) continue;
      end = i;
      open = continuation.test(next);
      text += open ? next.replace(continuation, "") : next;
    }
    text = text.trim();
    if (text !== "") out.push({ line: start, endLine: end, text });
  }
  return out;
}
