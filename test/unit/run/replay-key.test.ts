// The replay key and record names (src/run/replay-key.ts), which burrow-ns --replay must build alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { field, fnv1a64, replayDir, replayKey } from "../../../src/run/replay-key.js";

/** FNV-1a 64 the plain way, with BigInt. */
function reference(data: Buffer): string {
  let h = 0xcbf29ce484222325n;
  for (const b of data) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
}

test("fnv1a64 is FNV-1a with 64 bits", () => {
  assert.equal(fnv1a64(Buffer.from("")), "cbf29ce484222325");
  assert.equal(fnv1a64(Buffer.from("a")), "af63dc4c8601ec8c");
  for (const s of ["burrow", "x".repeat(1000), "\u00ff\u0000\u0080 run alpine"]) {
    const b = Buffer.from(s);
    assert.equal(fnv1a64(b), reference(b));
  }
  const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256));
  assert.equal(fnv1a64(random), reference(random));
});

test("a field is TAG LEN newline BYTES newline, LEN in bytes", () => {
  assert.equal(field("arg", "é").toString(), "arg 2\né\n");
});

test("the key holds the arguments and the variables' names, not their values", () => {
  const proc = {
    status: "Name:\tnode\nUmask:\t0022\nUid:\t1\t1\t1\t1\nGid:\t2\t2\t2\t2\nGroups:\t2 \nVmRSS:\t1 kB\n",
    limits: "Limit\nMax stack size 8388608\nMax open files 1024 4096\n",
    tty: [false, true, false] as [boolean, boolean, boolean],
    cwd: "/w",
    host: "h",
  };
  const key = replayKey(["run", "img"], { A: "1", B: "2" }, proc).toString();
  assert.equal(
    key,
    "burrow-replay-key 1\n" +
      "ids 49\nUmask:\t0022\nUid:\t1\t1\t1\t1\nGid:\t2\t2\t2\t2\nGroups:\t2 \n\n" +
      "limits 29\nLimit\nMax stack size 8388608\n\n" +
      "tty 3\n010\ncwd 2\n/w\nhost 1\nh\narg 3\nrun\narg 3\nimg\nname 1\nA\nname 1\nB\n",
  );
  assert.equal(replayKey(["run", "img"], { A: "other", B: "" }, proc).toString(), key);
});

test("records live in the user's cache folder", () => {
  assert.equal(replayDir({ XDG_CACHE_HOME: "/c", HOME: "/h" }), "/c/burrow/replay");
  assert.equal(replayDir({ XDG_CACHE_HOME: "rel", HOME: "/h" }), "/h/.cache/burrow/replay");
  assert.equal(replayDir({}), undefined);
});
