// What burrow prints for people, made safe for a terminal: control characters are shown, never sent.
//
// Text an image, a registry or another user controls (labels, Env, User, a reason phrase, an error body,
// a file name in a layer, a search description) may hold terminal control sequences: ESC [ ... (CSI:
// colours, cursor moves, clearing the screen), ESC ] 52 ; ... BEL (OSC 52: writing the user's clipboard),
// or their 8-bit C1 forms (U+009B is CSI on terminals that take C1). burrow shows each such character in
// a visible form instead:
//   - C0 controls (U+0000 to U+001F) and DEL as \xNN (tab, newline and CR as \t, \n, \r);
//   - C1 controls (U+0080 to U+009F) as \u00NN, line and paragraph separators as \u2028 and \u2029;
//   - a lone UTF-16 surrogate (no character: a terminal would get U+FFFD) as \uDNNN;
//   - from bytes (printableBytes), a byte that is not part of valid UTF-8 as \xNN, so \x9b is the byte
//     and \u009b the character.
// Backslashes are left alone: this is for reading, not for parsing back (JSON output is the exact form).
// A tab is escaped in a field or a one-line message (printable): in a table cell it breaks the columns;
// laid-out text (printableText) keeps tabs and newlines, which burrow itself writes.
//
// Where it applies (the places lines are written, so that new messages are covered too): printableStream
// guards the CLI's stdout and stderr (src/cli/main.ts, processContext in src/cli/host.ts); reportError, warn
// and info print one printable line; table() makes each cell printable; JSON output goes through
// printableJson; the engines' C helpers print names with put_printable (engines/common/printable.c,
// linked into burrow-ns and burrow-runc-init), in the same forms.

/* eslint-disable no-control-regex -- matching control characters is the point */
// The characters shown escaped: C0, DEL, C1, U+2028/9, and a surrogate that is not half of a pair.
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

// The same, less tab and newline.
const UNSAFE_IN_TEXT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/* eslint-enable no-control-regex */

const SHORT: Record<string, string> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** The visible form of one unsafe UTF-16 unit. */
function visible(c: string): string {
  const short = SHORT[c];
  if (short !== undefined) return short;
  const n = c.charCodeAt(0);
  const hex = n.toString(16).padStart(n < 0x80 ? 2 : 4, "0");
  return n < 0x80 ? `\\x${hex}` : `\\u${hex}`;
}

/** `s` as one line for a terminal: every control character (tab and newline too) in its visible form. */
export function printable(s: string): string {
  return s.replace(UNSAFE, visible);
}

/** Text burrow has laid out (lines, columns), for a terminal: as printable, but tabs and newlines kept. */
export function printableText(s: string): string {
  return s.replace(UNSAFE_IN_TEXT, visible);
}

/** The length of the valid UTF-8 sequence at `b[i]`, or 0 when the byte there does not start one. */
function utf8Length(b: Uint8Array, i: number): number {
  const lead = b[i]!;
  if (lead < 0x80) return 1;
  // The second byte's range depends on the lead (RFC 3629: no overlong forms, surrogates or > U+10FFFF).
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) n = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead === 0xe0) lo = 0xa0;
    if (lead === 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead === 0xf0) lo = 0x90;
    if (lead === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > b.length) return 0;
  const second = b[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = b[i + k]!;
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/** Bytes read as UTF-8 for a terminal, on one line: as printable, and each invalid byte as \xNN. */
export function printableBytes(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let out = "";
  let start = 0;
  let i = 0;
  while (i < buf.length) {
    const n = utf8Length(buf, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += printable(buf.toString("utf8", start, i)) + `\\x${buf[i]!.toString(16).padStart(2, "0")}`;
    i++;
    start = i;
  }
  return out + printable(buf.toString("utf8", start, i));
}

// What JSON.stringify leaves raw and a terminal (or a JavaScript parser, for U+2028/9) takes as control.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;

/**
 * `value` as JSON (indented by `space`) with no control character in it: JSON.stringify escapes C0 and
 * lone surrogates; DEL, C1 and U+2028/9, which it leaves raw, become \u00NN / \u2028 escapes. They can only
 * stand in strings, so the text parses back to the same values.
 */
export function printableJson(value: unknown, space: number = 2): string {
  return JSON.stringify(value, null, space).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

const guards = new WeakMap<object, NodeJS.WritableStream>();
const raws = new WeakMap<object, NodeJS.WritableStream>();

/** A chunk as it goes to a guarded stream: a string is burrow's text, made printable; bytes pass as they are. */
function guardChunk(chunk: unknown): unknown {
  return typeof chunk === "string" ? printableText(chunk) : chunk;
}

/**
 * `stream` with every string written to it made printable (printableText), the CLI's stdout and stderr:
 * whatever a command prints for people goes through here, future messages too. Bytes (a Buffer) pass as
 * they are: they are data, not burrow's text (a container's log in `logs`, an archive from `save` or
 * `export`). Everything else (isTTY, events, drain) is the stream's own. The same stream gives the same guard.
 */
export function printableStream<T extends NodeJS.WritableStream>(stream: T): T {
  if (raws.has(stream)) return stream;
  const known = guards.get(stream);
  if (known !== undefined) return known as T;
  const bound = new Map<PropertyKey, [unknown, unknown]>();
  const write = (chunk: unknown, ...rest: unknown[]): boolean =>
    (stream.write as (...a: unknown[]) => boolean)(guardChunk(chunk), ...rest);
  const end = (...args: unknown[]): unknown =>
    (stream.end as (...a: unknown[]) => unknown)(...args.map((a, i) => (i === 0 ? guardChunk(a) : a)));
  const guard = new Proxy(stream, {
    get(target, prop) {
      if (prop === "write") return write;
      if (prop === "end") return end;
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      // Methods run on the stream itself, so its state and listeners stay in one place.
      const known = bound.get(prop);
      if (known !== undefined && known[0] === value) return known[1];
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      bound.set(prop, [value, fn]);
      return fn;
    },
  });
  guards.set(stream, guard);
  raws.set(guard, stream);
  return guard;
}

/** The stream under a printableStream guard (or `stream` itself): for output that is not text for people. */
export function rawStream<T extends NodeJS.WritableStream>(stream: T): T {
  return (raws.get(stream) as T | undefined) ?? stream;
}
