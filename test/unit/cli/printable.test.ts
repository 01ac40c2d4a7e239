import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { Cli } from "clipanion";
import {
  printable,
  printableBytes,
  printableJson,
  printableStream,
  printableText,
  rawStream,
} from "../../../src/cli/printable.js";
import { BurrowCommand, reportError } from "../../../src/cli/base.js";
import { GlobalHost, processContext } from "../../../src/cli/host.js";
import type { BurrowContext } from "../../../src/cli/base.js";
import { table } from "../../../src/cli/format.js";
import { PullProgress } from "../../../src/cli/progress.js";
import { searchTable } from "../../../src/search/results.js";
import { RegistryError } from "../../../src/errors.js";

/** Every character a terminal takes as a control: C0, DEL, C1, and the separators. */
// eslint-disable-next-line no-control-regex -- looking for control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A writable that keeps what it gets (strings and bytes as they came) and says it is a terminal. */
function sink(): Writable & { chunks: (string | Buffer)[]; text(): string; isTTY: boolean } {
  const chunks: (string | Buffer)[] = [];
  const w = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  }) as Writable & { chunks: (string | Buffer)[]; text(): string; isTTY: boolean };
  w.chunks = chunks;
  w.text = () => chunks.map((c) => c.toString()).join("");
  w.isTTY = true;
  return w;
}

test("printable shows C0 controls, ESC and DEL as \\xNN, and tab, newline, CR by name", () => {
  assert.equal(printable("a\x1bb"), "a\\x1bb");
  assert.equal(printable("\x00\x07\x08\x7f"), "\\x00\\x07\\x08\\x7f");
  assert.equal(printable("a\tb\nc\rd"), "a\\tb\\nc\\rd");
  assert.equal(printable("plain text, ünïcode ✓ and 🐳"), "plain text, ünïcode ✓ and 🐳");
  assert.equal(printable("C:\\path\\x1b"), "C:\\path\\x1b", "backslashes are left alone");
});

test("printable defuses CSI and OSC sequences: OSC 52 clipboard writes, colours, screen clearing", () => {
  const osc52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07";
  assert.equal(printable(osc52), "\\x1b]52;c;ZWNobyBwd25lZA==\\x07");
  const osc52st = "\x1b]52;c;ZWNobw==\x1b\\";
  assert.equal(printable(osc52st), "\\x1b]52;c;ZWNobw==\\x1b\\");
  assert.equal(printable("\x1b[31mred\x1b[0m\x1b[2J\x1b[H"), "\\x1b[31mred\\x1b[0m\\x1b[2J\\x1b[H");
  for (const s of [osc52, osc52st, "\x1b[31mred"]) assert.doesNotMatch(printable(s), CONTROL);
});

test("printable shows C1 controls (8-bit CSI, OSC, ST) as \\u00NN", () => {
  assert.equal(printable("\u009b31m"), "\\u009b31m");
  assert.equal(printable("\u009d52;c;eA==\u009c"), "\\u009d52;c;eA==\\u009c");
  assert.equal(printable("\u0080\u009f"), "\\u0080\\u009f");
  assert.equal(printable("\u00a0é"), "\u00a0é", "U+00A0 and above are characters");
});

test("printable shows U+2028, U+2029 and lone surrogates escaped, and keeps surrogate pairs", () => {
  assert.equal(printable("a\u2028b\u2029c"), "a\\u2028b\\u2029c");
  assert.equal(printable("x\ud800y"), "x\\ud800y");
  assert.equal(printable("x\udc00y"), "x\\udc00y");
  assert.equal(printable("\udc00\ud800"), "\\udc00\\ud800", "a pair in the wrong order is two lone halves");
  assert.equal(printable("\ud83d\udc33"), "🐳");
  assert.equal(printable("\ud83d\ud83d\udc33"), "\\ud83d🐳");
});

test("printableText keeps tabs and newlines and escapes every other control", () => {
  assert.equal(printableText("a\tb\nc\x1b[2Jd\re\u009b"), "a\tb\nc\\x1b[2Jd\\re\\u009b");
});

test("printableBytes shows invalid UTF-8 bytes as \\xNN and escapes the controls of the valid text", () => {
  assert.equal(printableBytes(Buffer.from("héllo 🐳")), "héllo 🐳");
  assert.equal(printableBytes(Buffer.from([0x61, 0x9b, 0x62])), "a\\x9bb", "a lone C1 byte is a byte");
  assert.equal(printableBytes(Buffer.from([0xc2, 0x9b])), "\\u009b", "U+009B encoded is the character");
  assert.equal(printableBytes(Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d])), "\\x1b[31m");
  assert.equal(printableBytes(Buffer.from([0xff, 0xfe])), "\\xff\\xfe");
  assert.equal(printableBytes(Buffer.from([0xc0, 0xaf])), "\\xc0\\xaf", "overlong /");
  assert.equal(printableBytes(Buffer.from([0xed, 0xa0, 0x80])), "\\xed\\xa0\\x80", "an encoded surrogate");
  assert.equal(printableBytes(Buffer.from([0xf4, 0x90, 0x80, 0x80])), "\\xf4\\x90\\x80\\x80", "> U+10FFFF");
  assert.equal(printableBytes(Buffer.from([0xe2, 0x82])), "\\xe2\\x82", "cut short at the end");
  assert.equal(printableBytes(Buffer.from([0xe2, 0x82, 0x41])), "\\xe2\\x82A", "cut short in the middle");
  assert.equal(
    printableBytes(new Uint8Array([0x41, 0x0a]).subarray(1)),
    "\\n",
    "a view into a larger buffer",
  );
  assert.equal(printableBytes(Buffer.alloc(0)), "");
});

test("printableJson escapes DEL, C1 and U+2028/9 that JSON.stringify leaves raw, and parses back the same", () => {
  const value = {
    label: "\x1b]52;c;eA==\x07\x1b[2J",
    c1: "\u009b31m\u0085\u009f",
    del: "a\x7fb",
    separators: "\u2028\u2029",
    lone: "\ud800x\udc00",
    tab: "a\tb\nc",
    fine: "ünïcode 🐳 \\x1b",
    nested: [{ "key\x1b": "\u0090" }],
  };
  const text = printableJson(value);
  assert.doesNotMatch(text.replace(/\n/g, ""), CONTROL);
  assert.deepEqual(JSON.parse(text), value);
  assert.match(text, /\\u007f/);
  assert.match(text, /\\u009b31m\\u0085\\u009f/);
  assert.match(text, /\\u2028\\u2029/);
  assert.equal(printableJson({ a: 1 }), JSON.stringify({ a: 1 }, null, 2), "plain JSON is unchanged");
});

test("printableStream makes strings printable, passes bytes, and forwards the rest to the stream", async () => {
  const out = sink();
  const guard = printableStream(out);
  assert.equal(printableStream(out), guard, "one guard per stream");
  assert.equal(printableStream(guard), guard, "a guard is not guarded twice");
  assert.equal(rawStream(guard), out);
  assert.equal(rawStream(out), out);
  assert.equal((guard as unknown as { isTTY: boolean }).isTTY, true);
  guard.write("line\x1b[31m one\n\ttwo\u009b\n");
  guard.write(Buffer.from("raw \x1b[0m bytes\n"));
  let drained = false;
  guard.once("drain", () => (drained = true));
  out.emit("drain");
  assert.ok(drained, "listeners are the stream's own");
  await new Promise<void>((resolve) => guard.end("last\x07", resolve));
  assert.deepEqual(out.chunks, [
    "line\\x1b[31m one\n\ttwo\\u009b\n",
    Buffer.from("raw \x1b[0m bytes\n"),
    "last\\x07",
  ]);
});

test("reportError prints one printable line, and --debug a printable cause chain", () => {
  const out = sink();
  const err = new RegistryError("localhost:5000 answered HTTP 500 \x1b]52;c;eA==\x07 for x\ny", {
    cause: Object.assign(new Error("body \u009b2J\x1b[2J"), { code: "E\x1bX" }),
  });
  assert.equal(reportError(err, out, false, 1), 1);
  assert.equal(out.text(), "burrow: localhost:5000 answered HTTP 500 \\x1b]52;c;eA==\\x07 for x\\ny\n");
  const debug = sink();
  reportError(err, debug, true);
  const text = debug.text();
  assert.doesNotMatch(text.replace(/\n/g, ""), CONTROL);
  assert.match(text, /caused by: Error \[E\\x1bX\]: body \\u009b2J\\x1b\[2J/);
  const internal = sink();
  reportError(new TypeError("bad \x1b[2J"), internal, false);
  assert.equal(
    internal.text(),
    "burrow: internal error (a bug in burrow): bad \\x1b[2J; please report it with the output of the same command run with --debug\n",
  );
});

test("warn and info print one printable line", async () => {
  class Noisy extends BurrowCommand {
    static override paths = [["noisy"]];
    async run(): Promise<number> {
      this.warn("skipping \x1b[2J/dev/evil\n: a device");
      this.info("kept \u009b31m");
      return 0;
    }
  }
  const out = sink();
  const err = sink();
  const cli = new Cli<BurrowContext>({ binaryName: "burrow" });
  cli.register(Noisy);
  const status = await cli.run(["noisy"], { ...Cli.defaultContext, stdout: out, stderr: err, env: {} });
  assert.equal(status, 0);
  assert.equal(err.text(), "burrow: warning: skipping \\x1b[2J/dev/evil\\n: a device\nkept \\u009b31m\n");
});

test("table cells are printable and stay on one line and in their column", () => {
  const text = table([
    ["NAME", "VALUE"],
    ["a\tb", "x"],
    ["c\nd\x1b[2J", "y\u009b"],
  ]);
  assert.equal(text, "NAME          VALUE\na\\tb          x\nc\\nd\\x1b[2J   y\\u009b\n");
});

test("search descriptions are printable before they are cut to width", () => {
  const text = searchTable([
    {
      name: "evil",
      description: "\x1b]52;c;eA==\x07" + "x".repeat(60),
      stars: 1,
      official: false,
      automated: false,
    },
  ]);
  assert.doesNotMatch(text.replace(/\n/g, ""), CONTROL);
  const row = text.split("\n")[1]!;
  assert.ok(row.includes("\\x1b]52;c;eA==\\x07xxx"), row);
  assert.ok(row.includes("…"));
});

test("pull progress draws its cursor moves on the raw stream of a guarded terminal", () => {
  const out = sink();
  const progress = new PullProgress(printableStream(out) as unknown as NodeJS.WriteStream);
  progress.resolved([{ digest: `sha256:${"ab".repeat(32)}`, size: 10, mediaType: "x" } as never]);
  progress.extracting(`sha256:${"ab".repeat(32)}`);
  const text = out.text();
  assert.ok(text.includes("\x1b[2Kabababababab: Extracting\n"), JSON.stringify(text));
  assert.ok(text.includes("\x1b[1A"), JSON.stringify(text));
});

test("burrow run's direct path (GlobalHost on processContext) writes through the guards of the process's streams", () => {
  const globals = { repo: undefined, debug: false, quiet: false, insecure: false, offline: false };
  const host = new GlobalHost(globals, processContext({}), 125);
  assert.equal(host.context.stdout, printableStream(process.stdout));
  assert.equal(host.context.stderr, printableStream(process.stderr));
  assert.equal(rawStream(host.context.stderr), process.stderr);
});
