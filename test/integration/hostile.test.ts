// Hostile layers pulled from the real registry: nothing outside the store is ever written, linked or deleted.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { testEnv, runBurrow, makeTestHome, chownToTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromEntries, pushImage, uniqueRepo } from "../harness/image-builder.js";
import type { TarEntry } from "../harness/tar-writer.js";
import { describeTree } from "./tree.js";

let home: TestHome;
/** A folder outside the store that the test user could write to: what an escape would hit. */
let sentinel: string;
let before_: string[];

before(async () => {
  home = await makeTestHome();
  sentinel = path.join(home.dir, "outside");
  fs.mkdirSync(path.join(sentinel, "sub"), { recursive: true });
  fs.writeFileSync(path.join(sentinel, "victim"), "precious");
  fs.writeFileSync(path.join(sentinel, "sub", "victim2"), "precious too");
  await chownToTestUser(sentinel);
  before_ = describeTree(sentinel);
});
after(async () => {
  await home.cleanup();
});

/** Pushes the layers as one image, pulls it, and checks the sentinel did not change. */
async function pullHostile(
  name: string,
  layers: TarEntry[][],
): Promise<{ code: number | null; stderr: string; rootfs?: string; ref: string }> {
  const repo = uniqueRepo(`hostile-${name}`);
  const pushed = await pushImage(
    "plain",
    repo,
    "1",
    await Promise.all(layers.map((l) => layerFromEntries(l))),
  );
  const r = await runBurrow(["pull", pushed.ref], {
    home,
    env: { BURROW_INSECURE_REGISTRIES: testEnv().registries.plain.host },
  });
  assert.deepEqual(describeTree(sentinel), before_, `${name}: the folder outside the store changed`);
  assert.equal(fs.readFileSync(path.join(sentinel, "victim"), "utf8"), "precious");
  if (r.code === 0) {
    const p = await runBurrow(["inspect", "-p", pushed.ref], { home });
    return { code: 0, stderr: r.stderr, rootfs: p.stdout.trim(), ref: pushed.ref };
  }
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
  const images = JSON.parse((await runBurrow(["images", "--format", "json"], { home })).stdout) as {
    names: string[];
  }[];
  assert.ok(!images.some((i) => i.names.includes(pushed.ref)), "a refused image is not in the store");
  return { code: r.code, stderr: r.stderr, ref: pushed.ref };
}

const up = (n: number) => "../".repeat(n);

test("an entry whose path climbs out with .. is refused", async () => {
  const r = await pullHostile("dotdot", [
    [{ path: `${up(12)}${sentinel.slice(1)}/pwned`, type: "file", content: "x" }],
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unsafe|outside|\.\./i);
});

test("an absolute entry path lands inside the rootfs", async () => {
  const r = await pullHostile("absolute", [[{ path: `${sentinel}/pwned`, type: "file", content: "x" }]]);
  if (r.code === 0) assert.ok(fs.existsSync(path.join(r.rootfs!, sentinel, "pwned")));
});

test("a write through an absolute symlink made by an earlier layer stays inside", async () => {
  const r = await pullHostile("abs-symlink-earlier", [
    [{ path: "evil", type: "symlink", linkname: sentinel }],
    [{ path: "evil/pwned", type: "file", content: "x" }],
  ]);
  if (r.code === 0) assert.ok(!fs.existsSync(path.join(sentinel, "pwned")));
});

test("a write through a relative symlink climbing out, in the same layer, stays inside", async () => {
  await pullHostile("rel-symlink-same", [
    [
      { path: "evil", type: "symlink", linkname: `${up(15)}${sentinel.slice(1)}` },
      { path: "evil/pwned", type: "file", content: "x" },
    ],
  ]);
});

test("a directory created through a symlink stays inside", async () => {
  await pullHostile("dir-through-symlink", [
    [{ path: "evil", type: "symlink", linkname: sentinel }],
    [
      { path: "evil/newdir/", type: "dir" },
      { path: "evil/newdir/f", type: "file", content: "x" },
    ],
  ]);
});

test("a file replacing a symlink to an outside file replaces the link, not the target", async () => {
  const r = await pullHostile("file-over-symlink", [
    [{ path: "f", type: "symlink", linkname: path.join(sentinel, "victim") }],
    [{ path: "f", type: "file", content: "overwritten" }],
  ]);
  if (r.code === 0) {
    const st = fs.lstatSync(path.join(r.rootfs!, "f"));
    assert.ok(st.isFile());
  }
});

test("a hardlink to a target outside the rootfs is refused", async () => {
  const r = await pullHostile("hardlink-out", [
    [{ path: "h", type: "hardlink", linkname: `${up(12)}${sentinel.slice(1)}/victim` }],
  ]);
  assert.equal(r.code, 1);
});

test("a hardlink to an absolute outside path never links the host file", async () => {
  const r = await pullHostile("hardlink-abs", [
    [{ path: "h", type: "hardlink", linkname: `${sentinel}/victim` }],
  ]);
  assert.equal(fs.statSync(path.join(sentinel, "victim")).nlink, 1, "the host file gained no link");
  void r;
});

test("a hardlink through a symlinked parent never links the host file", async () => {
  await pullHostile("hardlink-via-symlink", [
    [{ path: "evil", type: "symlink", linkname: sentinel }],
    [{ path: "h", type: "hardlink", linkname: "evil/victim" }],
  ]);
  assert.equal(fs.statSync(path.join(sentinel, "victim")).nlink, 1, "the host file gained no link");
});

test("a whiteout through a symlink never deletes outside", async () => {
  await pullHostile("whiteout-via-symlink", [
    [{ path: "evil", type: "symlink", linkname: sentinel }],
    [{ path: "evil/.wh.victim", type: "file" }],
  ]);
});

test("an opaque whiteout through a symlink never empties an outside folder", async () => {
  await pullHostile("opaque-via-symlink", [
    [{ path: "evil", type: "symlink", linkname: path.join(sentinel, "sub") }],
    [{ path: "evil/.wh..wh..opq", type: "file" }],
  ]);
});

test("a whiteout climbing out with .. is refused", async () => {
  const r = await pullHostile("whiteout-dotdot", [
    [{ path: `${up(12)}${sentinel.slice(1)}/.wh.victim`, type: "file" }],
  ]);
  assert.equal(r.code, 1);
});

test("device nodes are skipped with a warning and the rest is flattened", async () => {
  const r = await pullHostile("devices", [
    [
      { path: "dev/", type: "dir" },
      { path: "dev/sda", type: "block", devmajor: 8, devminor: 0 },
      { path: "dev/mem", type: "char", devmajor: 1, devminor: 1 },
      { path: "ok", type: "file", content: "ok" },
    ],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning/i);
  assert.match(r.stderr, /dev\/(sda|mem)/);
  assert.ok(!fs.existsSync(path.join(r.rootfs!, "dev/sda")));
  assert.ok(!fs.existsSync(path.join(r.rootfs!, "dev/mem")));
  assert.equal(fs.readFileSync(path.join(r.rootfs!, "ok"), "utf8"), "ok");
});

test("read-only directories in a layer stay removable by their owner", async () => {
  const r = await pullHostile("readonly-dirs", [
    [
      { path: "ro/", type: "dir", mode: 0o555 },
      { path: "ro/f", type: "file", content: "x", mode: 0o444 },
    ],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const st = fs.statSync(path.join(r.rootfs!, "ro"));
  assert.equal(st.mode & 0o700, 0o700);
  const rm = await runBurrow(["rmi", r.ref], { home });
  assert.equal(rm.code, 0, rm.stderr);
  assert.ok(!fs.existsSync(r.rootfs!), "the image was removed as its owner");
});
