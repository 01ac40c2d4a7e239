// Files pulled as the layer has them, through a real pull from the registry as the unprivileged user:
// byte names (not UTF-8), GNU and PAX sparse files written sparse, a 5000-byte path, user.* xattrs; seen
// on the store and from inside `burrow run` with every engine and layer mode; nothing leaves the root.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chownToTestUser, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries, layerFromTar } from "../harness/image-builder.js";
import { TEST_ENGINES, burrowIn, ok, pushAlpine, show } from "../harness/suite.js";
import { describeTree } from "./tree.js";

let home: TestHome;
let sentinel: string;
let sentinelBefore: string[];
let ref = "";
let rootfs = "";
let deepRef = "";
let deepRootfs = "";
let pullStderr = "";
const burrow = burrowIn(() => home);

const SIZE = 8 * 1024 * 1024;
/** A (latin-1) name that is not UTF-8, and one that differs from it in one byte only. */
const NAME_A = Buffer.from([0x63, 0x61, 0x66, 0xe9]);
const NAME_B = Buffer.from([0x63, 0x61, 0x66, 0xff]);
/** 50 folders of 99 bytes: a path of about 5000 bytes. */
const DEEP_DIRS = Array.from({ length: 50 }, (_, i) => String(i).padStart(3, "0") + "d".repeat(96));
const DEEP = `deep/${DEEP_DIRS.join("/")}`;

/** The content every sparse file has: data at the start, in the middle and at the end, holes between. */
function sparseBytes(): Buffer {
  const b = Buffer.alloc(SIZE);
  b.write("start", 0);
  b.write("middle", SIZE / 2);
  b.write("end\n", SIZE - 4);
  return b;
}
const SPARSE_MD5 = createHash("md5").update(sparseBytes()).digest("hex");

/** Makes a sparse file of sparseBytes() content. */
function writeSparse(file: string): void {
  const fd = fs.openSync(file, "w");
  fs.writeSync(fd, "start", 0);
  fs.writeSync(fd, "middle", SIZE / 2);
  fs.writeSync(fd, "end\n", SIZE - 4);
  fs.closeSync(fd);
}

/** A layer made by GNU tar itself from a folder: `format` gnu (old 'S' sparse) or posix (PAX sparse). */
function gnuTarLayer(dir: string, args: string[]): Buffer {
  return execFileSync("tar", ["-C", dir, ...args, "-cf", "-", "."], { maxBuffer: 256 << 20 });
}

before(async () => {
  home = await makeTestHome();
  sentinel = path.join(home.dir, "outside");
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, "victim"), "precious");
  await chownToTestUser(sentinel);
  sentinelBefore = describeTree(sentinel);

  const src = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-faithful-src-"));
  try {
    // Layer 1, GNU format: the old 'S' sparse member and two names that are not UTF-8.
    fs.mkdirSync(path.join(src, "one/bytes"), { recursive: true });
    fs.writeFileSync(
      Buffer.concat([Buffer.from(path.join(src, "one/bytes") + "/"), NAME_A]),
      "latin-1 name\n",
    );
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(src, "one/bytes") + "/"), NAME_B]), "ff name\n");
    writeSparse(path.join(src, "one/sparse-gnu"));
    const l1 = gnuTarLayer(path.join(src, "one"), ["--format=gnu", "--sparse"]);
    // Layers 2 and 3, POSIX format: PAX sparse 0.1 and 1.0.
    fs.mkdirSync(path.join(src, "two"));
    writeSparse(path.join(src, "two/sparse-pax01"));
    const l2 = gnuTarLayer(path.join(src, "two"), ["--format=posix", "--sparse", "--sparse-version=0.1"]);
    fs.mkdirSync(path.join(src, "three"));
    writeSparse(path.join(src, "three/sparse-pax10"));
    const l3 = gnuTarLayer(path.join(src, "three"), ["--format=posix", "--sparse", "--sparse-version=1.0"]);
    // Layer 4: xattrs of every namespace, a 5000-byte path, and deep links that try to climb out.
    const l4 = await layerFromEntries([
      {
        path: "xattr/file",
        type: "file",
        content: "with xattrs\n",
        pax: {
          "SCHILY.xattr.user.burrow": "kept",
          "SCHILY.xattr.security.capability": "\x01\x00\x00\x02",
          "SCHILY.xattr.trusted.evil": "no",
          "SCHILY.xattr.user.overlay.opaque": "y",
        },
      },
      { path: "xattr/dir", type: "dir", pax: { "SCHILY.xattr.user.folder": "yes" } },
    ]);
    const l5 = await layerFromEntries([
      { path: `${DEEP}/leaf`, type: "file", content: "deep-ok\n", pax: { "SCHILY.xattr.user.deep": "1" } },
      { path: `${DEEP}/up`, type: "symlink", linkname: "../".repeat(120) + sentinel.slice(1) },
      { path: `${DEEP}/up/pwned`, type: "file", content: "x" },
      { path: `${DEEP}/abs`, type: "symlink", linkname: sentinel },
      { path: `${DEEP}/abs/pwned2`, type: "file", content: "x" },
    ]);
    const pushed = await pushAlpine("faithful", {
      layers: [await layerFromTar(l1), await layerFromTar(l2, "zstd"), await layerFromTar(l3), l4],
    });
    ref = pushed.ref;
    deepRef = (await pushAlpine("faithful-deep", { layers: [l5] })).ref;
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
  const r = await burrow(["pull", ref]);
  ok(r);
  pullStderr = r.stderr;
  rootfs = ok(await burrow(["inspect", "-p", ref])).trim();
  const d = await burrow(["pull", deepRef]);
  ok(d);
  pullStderr += d.stderr;
  deepRootfs = ok(await burrow(["inspect", "-p", deepRef])).trim();
});

after(async () => {
  // GNU rm: the store holds a path past PATH_MAX, which Node's rm cannot remove.
  if (home) execFileSync("rm", ["-rf", home.dir]);
});

/** Opens the folders of `rel` below `root` one by one (a deep path); returns /proc/self/fd/N/leaf. */
function deepFile(root: string, rel: string): { path: string; close(): void } {
  const parts = rel.split("/");
  let fd = fs.openSync(root, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  for (const c of parts.slice(0, -1)) {
    const next = fs.openSync(`/proc/self/fd/${fd}/${c}`, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.closeSync(fd);
    fd = next;
  }
  return { path: `/proc/self/fd/${fd}/${parts.at(-1)}`, close: () => fs.closeSync(fd) };
}

/** The xattrs of a file as GNU tar records them, `name=value` lines. */
function xattrsOf(file: string): string[] {
  const out = execFileSync(
    "tar",
    [
      "--xattrs",
      "--xattrs-include=*",
      "--no-recursion",
      "--format=posix",
      "-C",
      path.dirname(file),
      "-cf",
      "-",
      path.basename(file),
    ],
    { encoding: "latin1" },
  );
  return [...out.matchAll(/\d+ SCHILY\.xattr\.([^=]+)=([^\n]*)\n/g)].map((m) => `${m[1]}=${m[2]}`).sort();
}

test("the pull keeps byte names, sparse files, the deep path and user xattrs on the store", () => {
  assert.deepEqual(describeTree(sentinel), sentinelBefore, "the folder outside the store changed");
  assert.equal(pullStderr.includes("xattr"), false, pullStderr);
  const names = fs.readdirSync(path.join(rootfs, "bytes"), { encoding: "buffer" }).sort(Buffer.compare);
  assert.deepEqual(names, [NAME_A, NAME_B]);
  const at = (n: Buffer): Buffer => Buffer.concat([Buffer.from(path.join(rootfs, "bytes") + "/"), n]);
  assert.equal(fs.readFileSync(at(NAME_A), "utf8"), "latin-1 name\n");
  assert.equal(fs.readFileSync(at(NAME_B), "utf8"), "ff name\n");
  for (const f of ["sparse-gnu", "sparse-pax01", "sparse-pax10"]) {
    const st = fs.statSync(path.join(rootfs, f));
    assert.equal(st.size, SIZE, f);
    assert.ok(st.blocks * 512 < SIZE / 16, `${f} is sparse: ${st.blocks} blocks`);
    assert.equal(
      createHash("md5")
        .update(fs.readFileSync(path.join(rootfs, f)))
        .digest("hex"),
      SPARSE_MD5,
      f,
    );
  }
  assert.equal(
    fs.readdirSync(rootfs).some((n) => n.startsWith("GNUSparseFile")),
    false,
  );
  assert.deepEqual(xattrsOf(path.join(rootfs, "xattr/file")), ["user.burrow=kept"]);
  assert.deepEqual(xattrsOf(path.join(rootfs, "xattr/dir")), ["user.folder=yes"]);
  const leaf = deepFile(deepRootfs, `${DEEP}/leaf`);
  try {
    assert.equal(fs.readFileSync(leaf.path, "utf8"), "deep-ok\n");
    assert.deepEqual(xattrsOf(leaf.path.replace("/proc/self/", `/proc/${process.pid}/`)), ["user.deep=1"]);
  } finally {
    leaf.close();
  }
  // The deep links were followed inside the root only.
  assert.equal(fs.readFileSync(path.join(deepRootfs, sentinel, "pwned"), "utf8"), "x");
  assert.equal(fs.readFileSync(path.join(deepRootfs, sentinel, "pwned2"), "utf8"), "x");
});

/** The shell check run inside the container: names as hex bytes, sparse sums, a file with xattrs. */
const INSIDE = [
  "for f in /bytes/*; do printf '%s' \"${f#/bytes/}\" | od -An -tx1 | tr -d ' \\n'; echo; done",
  "md5sum /sparse-gnu /sparse-pax01 /sparse-pax10 | cut -d' ' -f1",
  "cat /xattr/file",
].join("; ");

/** Reads the deep file inside the container: each folder opened from the one before (/proc/self/fd/N/NAME). */
const INSIDE_DEEP = [
  "exec 3</deep",
  `for d in ${DEEP_DIRS.join(" ")}; do exec 4</proc/self/fd/3/$d || exit 9; exec 3<&4; done`,
  "cat /proc/self/fd/3/leaf",
].join("; ");

for (const engine of TEST_ENGINES) {
  for (const layer of ["overlay", "copy"]) {
    for (const named of [false, true]) {
      const how = `${engine}, layer ${layer}, ${named ? "named" : "unnamed"}`;
      test(`inside burrow run (${how}): byte names, sparse contents`, async () => {
        const name = `faithful-${engine}-${layer}`;
        const args = ["run", "--engine", engine, ...(named ? ["--name", name] : []), ref, "sh", "-c", INSIDE];
        const env = layer === "copy" ? { BURROW_LAYER: "copy" } : {};
        const r = await burrow(args, { env });
        assert.equal(r.code, 0, show(r));
        assert.deepEqual(
          r.stdout.split("\n"),
          [
            NAME_A.toString("hex"),
            NAME_B.toString("hex"),
            SPARSE_MD5,
            SPARSE_MD5,
            SPARSE_MD5,
            "with xattrs",
            "",
          ],
          how,
        );
        assert.deepEqual(describeTree(sentinel), sentinelBefore, "the folder outside the store changed");
        if (named) ok(await burrow(["rm", name], { env }));
      });
    }
  }
}

// The overlay layer shows the image's own tree: a path past PATH_MAX is there. (A private copy, which
// BURROW_LAYER=copy and proot make, is made with cp, which stops at PATH_MAX: see deepCopyRefused below.)
for (const engine of TEST_ENGINES.filter((e) => e !== "proot")) {
  for (const named of [false, true]) {
    test(`inside burrow run (${engine}, overlay, ${named ? "named" : "unnamed"}): the 5000-byte path`, async () => {
      const name = `faithful-deep-${engine}`;
      const args = [
        "run",
        "--engine",
        engine,
        ...(named ? ["--name", name] : []),
        deepRef,
        "sh",
        "-c",
        INSIDE_DEEP,
      ];
      const r = await burrow(args);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, "deep-ok\n");
      assert.deepEqual(describeTree(sentinel), sentinelBefore);
      if (named) ok(await burrow(["rm", name]));
    });
  }
}

test("rmi removes the images, one with a 5000-byte path", async () => {
  ok(await burrow(["rmi", ref, deepRef]));
  assert.equal(fs.existsSync(rootfs), false);
  assert.equal(fs.existsSync(deepRootfs), false);
  assert.deepEqual(describeTree(sentinel), sentinelBefore);
});

test("in the squashfs format the image keeps its user xattrs, byte names and sparse files' contents too", async () => {
  const sqHome = await makeTestHome();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "faithful-sqfs-"));
  try {
    const tmpdir = path.join(sqHome.dir, "node-tmp");
    fs.mkdirSync(tmpdir, { mode: 0o700 });
    await chownToTestUser(tmpdir);
    const env = { BURROW_IMAGE_FORMAT: "squashfs", BURROW_TMPDIR: tmpdir };
    ok(await burrowIn(() => sqHome)(["pull", ref], { env }));
    const images = path.join(sqHome.burrowDir, "images");
    const file = fs
      .readdirSync(images)
      .map((id) => path.join(images, id, "rootfs.sqfs"))
      .find((f) => fs.existsSync(f))!;
    // The file's own tree, as unsquashfs gives it (root: every xattr it holds).
    execFileSync("unsquashfs", ["-q", "-n", "-d", path.join(out, "t"), file]);
    const t = path.join(out, "t");
    assert.deepEqual(xattrsOf(path.join(t, "xattr/file")), ["user.burrow=kept"]);
    assert.deepEqual(xattrsOf(path.join(t, "xattr/dir")), ["user.folder=yes"]);
    const names = fs.readdirSync(path.join(t, "bytes"), { encoding: "buffer" }).sort(Buffer.compare);
    assert.deepEqual(names, [NAME_A, NAME_B]);
    for (const f of ["sparse-gnu", "sparse-pax01", "sparse-pax10"]) {
      assert.equal(
        createHash("md5")
          .update(fs.readFileSync(path.join(t, f)))
          .digest("hex"),
        SPARSE_MD5,
        f,
      );
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
    await sqHome.cleanup();
  }
});
