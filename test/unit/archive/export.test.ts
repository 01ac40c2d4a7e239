// rootfsTar / exportRootfs: the merged overlay view (whiteouts, opaque folders), tar members as a reader
// sees them (names, modes, owners, links, long and non-ASCII names), and atomic file output.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { exportRootfs, readOpaqueDirs, rootfsTar } from "../../../src/archive/export.js";
import type { ExportSource } from "../../../src/archive/export.js";
import { TarParser } from "../../../src/image/tar-parser.js";
import { findOnPath } from "../../../src/image/decompress.js";

interface Seen {
  type: string;
  mode: number;
  linkpath: string;
  content: string;
}

/** A fresh folder, removed when the process exits. */
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-export-"));
  process.once("exit", () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Writes files (content string), folders (ending in /) and symlinks (`-> target`) under `root`. */
function tree(root: string, spec: Record<string, string>): string {
  fs.mkdirSync(root, { recursive: true });
  for (const [rel, what] of Object.entries(spec)) {
    const p = path.join(root, rel);
    if (rel.endsWith("/")) fs.mkdirSync(p, { recursive: true });
    else {
      fs.mkdirSync(path.dirname(p), { recursive: true });
      if (what.startsWith("-> ")) fs.symlinkSync(what.slice(3), p);
      else fs.writeFileSync(p, what);
    }
  }
  return root;
}

/** The members of a tar stream, as burrow's own reader parses them, plus the raw uid/gid fields seen. */
async function members(src: ExportSource, warnings: string[] = []): Promise<Map<string, Seen>> {
  const out = new Map<string, Seen>();
  let current: Seen | undefined;
  const parser = new TarParser({
    entry(e) {
      // The parser gives names as byte strings; these tests name files in UTF-8.
      const name = Buffer.from(e.path, "latin1").toString("utf8");
      const linkpath = Buffer.from(e.linkpath, "latin1").toString("utf8");
      current = { type: e.type, mode: e.mode, linkpath, content: "" };
      assert.ok(!out.has(name), `member ${name} written twice`);
      out.set(name, current);
    },
    data(buf, start, end) {
      current!.content += buf.toString("utf8", start, end);
    },
    entryEnd() {},
  });
  const chunks: Buffer[] = [];
  for await (const chunk of rootfsTar(src, { warn: (m) => warnings.push(m) })) {
    chunks.push(chunk);
    parser.write(chunk);
  }
  parser.end();
  // Owner fields of every ustar header: root (0) whoever owns the files on disk.
  const all = Buffer.concat(chunks);
  for (let off = 0; off + 512 <= all.length; off += 512) {
    const h = all.subarray(off, off + 512);
    if (h.toString("latin1", 257, 262) !== "ustar") continue;
    assert.equal(h.toString("latin1", 108, 115), "0000000");
    assert.equal(h.toString("latin1", 116, 123), "0000000");
  }
  return out;
}

/** Makes an overlay whiteout (a 0/0 character device; Linux 5.8+ lets any user make one). */
function whiteout(p: string): void {
  execFileSync("mknod", [p, "c", "0", "0"]);
}

test("a plain tree exports with relative names, folders ending in /, modes, symlinks and hardlinks", async () => {
  const root = tree(path.join(tempDir(), "rootfs"), {
    "bin/": "",
    "bin/tool": "#!/bin/sh\n",
    "bin/sh": "-> /bin/tool",
    "etc/conf": "a=1\n",
    "empty/": "",
  });
  fs.chmodSync(path.join(root, "bin/tool"), 0o4755);
  fs.linkSync(path.join(root, "etc/conf"), path.join(root, "etc/conf.link"));
  const m = await members({ lower: root });
  assert.deepEqual(
    [...m.keys()],
    ["bin/", "bin/sh", "bin/tool", "empty/", "etc/", "etc/conf", "etc/conf.link"],
  );
  assert.equal(m.get("bin/")!.type, "5");
  assert.equal(m.get("bin/tool")!.mode, 0o4755);
  assert.equal(m.get("bin/tool")!.content, "#!/bin/sh\n");
  assert.deepEqual([m.get("bin/sh")!.type, m.get("bin/sh")!.linkpath], ["2", "/bin/tool"]);
  assert.equal(m.get("etc/conf")!.content, "a=1\n");
  assert.deepEqual([m.get("etc/conf.link")!.type, m.get("etc/conf.link")!.linkpath], ["1", "etc/conf"]);
});

test("an overlay container exports the upper layer over the image: whiteouts hide, opaque folders replace", async () => {
  const base = tempDir();
  const lower = tree(path.join(base, "lower"), {
    "etc/motd": "welcome\n",
    "etc/keep": "kept\n",
    "etc/apk/world": "busybox\n",
    "etc/apk/arch": "x86_64\n",
    "var/old/": "",
    "var/old/file": "old\n",
    "usr/bin/": "",
  });
  const upper = tree(path.join(base, "upper"), {
    "etc/keep": "changed\n",
    "etc/apk/new": "n\n",
    thefile: "hi\n",
    "var/old": "now a file\n",
  });
  whiteout(path.join(upper, "etc/motd"));
  const m = await members({ lower, upper, opaque: new Set(["etc/apk"]) });
  assert.ok(!m.has("etc/motd"), "a whited-out file is left out");
  assert.equal(m.get("etc/keep")!.content, "changed\n", "the upper copy wins");
  assert.ok(m.has("etc/apk/new"));
  assert.ok(!m.has("etc/apk/world") && !m.has("etc/apk/arch"), "an opaque folder hides the image's files");
  assert.equal(m.get("thefile")!.content, "hi\n");
  assert.equal(m.get("var/old")!.type, "0", "a file replacing a folder hides the folder's content");
  assert.ok(!m.has("var/old/") && !m.has("var/old/file"));
  assert.ok(m.has("usr/bin/"), "untouched image folders are there");
});

test("without an opaque mark the image's files show through a folder of the upper layer", async () => {
  const base = tempDir();
  const lower = tree(path.join(base, "lower"), { "etc/apk/world": "busybox\n" });
  const upper = tree(path.join(base, "upper"), { "etc/apk/new": "n\n" });
  const m = await members({ lower, upper, opaque: new Set() });
  assert.ok(m.has("etc/apk/world") && m.has("etc/apk/new"));
});

test("long and non-ASCII names and link targets go through PAX records", async () => {
  const long = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(90)}.txt`;
  const root = tree(path.join(tempDir(), "rootfs"), {
    [long]: "long\n",
    "caf\u00e9/\u00fcber": "utf8\n",
    link: `-> /${"t".repeat(150)}`,
  });
  const m = await members({ lower: root });
  assert.equal(m.get(long)!.content, "long\n");
  assert.equal(m.get("caf\u00e9/\u00fcber")!.content, "utf8\n");
  assert.equal(m.get("link")!.linkpath, `/${"t".repeat(150)}`);
  // GNU tar reads the same names.
  const file = path.join(tempDir(), "out.tar");
  await exportRootfs({ lower: root }, file, { warn: () => {} });
  const listed = execFileSync("tar", ["-tf", file], { encoding: "utf8" }).split("\n");
  assert.ok(listed.includes(long));
  assert.ok(listed.includes("caf\u00e9/\u00fcber"));
});

test("a file the user cannot read (mode 000) is exported and keeps its mode", async () => {
  const root = tree(path.join(tempDir(), "rootfs"), { "etc/shadow": "secret\n" });
  fs.chmodSync(path.join(root, "etc/shadow"), 0o000);
  const m = await members({ lower: root });
  assert.equal(m.get("etc/shadow")!.content, "secret\n");
  assert.equal(m.get("etc/shadow")!.mode, 0);
  assert.equal(fs.statSync(path.join(root, "etc/shadow")).mode & 0o7777, 0);
});

test("a failed export leaves the existing file as it was and no temporary file", async () => {
  const dir = tempDir();
  const file = path.join(dir, "out.tar");
  fs.writeFileSync(file, "old content");
  await assert.rejects(exportRootfs({ lower: path.join(dir, "no-such-rootfs") }, file, { warn: () => {} }));
  assert.equal(fs.readFileSync(file, "utf8"), "old content");
  assert.deepEqual(fs.readdirSync(dir), ["out.tar"]);
});

test("an export replaces an existing file atomically", async () => {
  const dir = tempDir();
  const root = tree(path.join(dir, "rootfs"), { a: "1\n" });
  const file = path.join(dir, "out.tar");
  fs.writeFileSync(file, "old content");
  const stats = await exportRootfs({ lower: root }, file, { warn: () => {} });
  assert.equal(stats.entries, 1);
  assert.deepEqual(execFileSync("tar", ["-tf", file], { encoding: "utf8" }).trim().split("\n"), ["a"]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["out.tar", "rootfs"]);
});

const setxattr = findOnPath("setfattr") ?? findOnPath("python3");
test(
  "opaque marks are read from the upper layer's overlay xattrs",
  { skip: setxattr === undefined ? "needs setfattr or python3 to set a user xattr" : false },
  async () => {
    const upper = tree(path.join(tempDir(), "upper"), { "etc/apk/new": "n\n", "var/": "" });
    const target = path.join(upper, "etc/apk");
    if (path.basename(setxattr!) === "setfattr") {
      execFileSync(setxattr!, ["-n", "user.overlay.opaque", "-v", "y", target]);
    } else {
      execFileSync(setxattr!, [
        "-c",
        "import os, sys; os.setxattr(sys.argv[1], 'user.overlay.opaque', b'y')",
        target,
      ]);
    }
    const found = await readOpaqueDirs(upper);
    assert.deepEqual(found && [...found], ["etc/apk"]);
  },
);
