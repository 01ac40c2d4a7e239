// The build comparison's own parts: merging layer tars with whiteouts, and sorting differences out.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { writeTar } from "../../harness/tar-writer.js";
import type { TarEntry } from "../../harness/tar-writer.js";
import { applyLayer, mergeLayers, readLayer, treePath } from "../../harness/image-tree.js";
import type { Tree, TreeEntry } from "../../harness/image-tree.js";
import { compareImages, describeDifference, diffConfigs, isRunStep } from "../../harness/build-compare.js";
import type { ImageConfig } from "../../harness/oci-layout.js";

/** Writes layers (gzip, plain, gzip...) to a temporary folder; returns their paths. */
function layerFiles(layers: TarEntry[][]): { files: string[]; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-tree-"));
  const files = layers.map((entries, i) => {
    const f = path.join(dir, `l${i}`);
    const tar = writeTar(entries);
    fs.writeFileSync(f, i % 2 === 0 ? gzipSync(tar) : tar);
    return f;
  });
  return { files, dir };
}

async function merged(layers: TarEntry[][]): Promise<Tree> {
  const { files, dir } = layerFiles(layers);
  try {
    return await mergeLayers(files);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("tree paths lose ./, leading and trailing slashes", () => {
  assert.equal(treePath("./etc/"), "etc");
  assert.equal(treePath("/usr//bin/./x"), "usr/bin/x");
  assert.equal(treePath("./"), "");
});

test("a layer's entries are read with type, mode, owner, size, content hash and link", async () => {
  const { files, dir } = layerFiles([
    [
      { path: "./etc/", type: "dir", mode: 0o755 },
      { path: "./etc/a", type: "file", content: "abc", mode: 0o4750, uid: 7, gid: 8 },
      { path: "./etc/l", type: "symlink", linkname: "/etc/a" },
    ],
  ]);
  try {
    const entries = await readLayer(files[0]!);
    assert.deepEqual(
      entries.map((e) => [
        e.path,
        e.type,
        e.mode.toString(8),
        e.uid,
        e.gid,
        e.size,
        e.sha256?.slice(0, 8),
        e.linkname,
      ]),
      [
        ["etc", "dir", "755", 0, 0, 0, undefined, undefined],
        ["etc/a", "file", "4750", 7, 8, 3, "ba7816bf", undefined],
        ["etc/l", "symlink", "777", 0, 0, 0, undefined, "/etc/a"],
      ],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("an empty tar (only its end blocks) is a layer of nothing", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-tree-"));
  try {
    fs.writeFileSync(path.join(dir, "empty"), gzipSync(Buffer.alloc(1024)));
    assert.deepEqual(await readLayer(path.join(dir, "empty")), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("whiteouts remove a file and a folder with what is under it; opaque folders hide the layers below", async () => {
  const tree = await merged([
    [
      { path: "a/", type: "dir" },
      { path: "a/f", type: "file", content: "1" },
      { path: "d/", type: "dir" },
      { path: "d/x/", type: "dir" },
      { path: "d/x/y", type: "file", content: "2" },
      { path: "o/", type: "dir" },
      { path: "o/old", type: "file", content: "3" },
      { path: "keep", type: "file", content: "4" },
    ],
    [
      { path: "a/.wh.f", type: "file" },
      { path: ".wh.d", type: "file" },
      // The new file comes before the opaque marker in the tar: it stays all the same.
      { path: "o/new", type: "file", content: "5" },
      { path: "o/.wh..wh..opq", type: "file" },
    ],
  ]);
  assert.deepEqual([...tree.keys()].sort(), ["a", "keep", "o", "o/new"]);
  assert.equal(tree.get("o/new")!.layer, 1);
  assert.equal(tree.get("keep")!.layer, 0);
});

test("a file over a folder removes the folder's contents; a hard link is merged as the file it names", async () => {
  const tree = await merged([
    [
      { path: "x/", type: "dir" },
      { path: "x/in", type: "file", content: "1" },
      { path: "f", type: "file", content: "shared", mode: 0o600, uid: 5 },
    ],
    [
      { path: "x", type: "file", content: "now a file" },
      { path: "g", type: "hardlink", linkname: "f" },
    ],
  ]);
  assert.deepEqual([...tree.keys()].sort(), ["f", "g", "x"]);
  const { layer: lf, ...f } = tree.get("f")!;
  const { layer: lg, ...g } = tree.get("g")!;
  assert.deepEqual(g, f);
  assert.deepEqual([lf, lg], [0, 1]);
});

test("a hard link to nothing is an error naming it", () => {
  assert.throws(
    () =>
      applyLayer(
        new Map(),
        [{ path: "g", type: "hardlink", linkname: "nope", mode: 0o644, size: 0, uid: 0, gid: 0 }],
        0,
      ),
    /hard link g names nope/,
  );
});

test("RUN steps are told from COPY, ADD and metadata steps in Docker's, BuildKit's and Buildah's history", () => {
  assert.equal(isRunStep("/bin/sh -c useradd -m app"), true);
  assert.equal(isRunStep("|1 V=3 /bin/sh -c make"), true);
  assert.equal(isRunStep("RUN /bin/sh -c make # buildkit"), true);
  assert.equal(isRunStep("/bin/sh -c #(nop) COPY file:abc in /app"), false);
  assert.equal(isRunStep("COPY . /app # buildkit"), false);
  assert.equal(isRunStep("/bin/sh -c #(nop) ADD file:abc in /"), false);
  assert.equal(isRunStep(undefined), false);
});

test("configs: absent, null and empty read alike; labels compare key by key", () => {
  assert.deepEqual(diffConfigs({ Volumes: null, Cmd: [] }, { Entrypoint: null }), []);
  const d = diffConfigs(
    { Labels: { a: "1", "io.buildah.version": "1.28.2" }, User: "app" },
    { Labels: { a: "1" }, User: "app" },
  );
  assert.deepEqual(d, [
    { kind: "config", field: "Labels", key: "io.buildah.version", podman: "1.28.2", burrow: undefined },
  ]);
});

const entry = (e: Partial<TreeEntry>): TreeEntry => ({
  type: "file",
  mode: 0o644,
  size: 0,
  uid: 0,
  gid: 0,
  layer: 0,
  ...e,
});

test("differences are sorted out: documented, owners of RUN-made files, and the rest", () => {
  const config = (steps: string[]): ImageConfig => ({
    config: {},
    rootfs: { diff_ids: steps.map((_, i) => `sha256:${i}`) },
    history: steps.map((s) => ({ created_by: s })),
  });
  const podmanConfig = config([
    "base",
    "/bin/sh -c useradd app && chown -R app /app",
    "/bin/sh -c #(nop) COPY file:x in /y",
  ]);
  const burrowConfig = config([
    "base",
    "/bin/sh -c useradd app && chown -R app /app",
    "/bin/sh -c #(nop) COPY file:x in /y",
  ]);
  podmanConfig.config = { Labels: { "io.buildah.version": "1.28.2" }, Cmd: ["sh"] };
  burrowConfig.config = { Cmd: ["bash"] };
  const podman: Tree = new Map([
    ["app", entry({ type: "dir", mode: 0o755, uid: 1000, gid: 1000, layer: 1 })],
    ["etc/resolv.conf", entry({ layer: 1 })],
    ["y", entry({ uid: 1000, gid: 1000, layer: 2, size: 1, sha256: "aa" })],
    ["same", entry({ layer: 0 })],
  ]);
  const burrow: Tree = new Map([
    ["app", entry({ type: "dir", mode: 0o755, layer: 1 })],
    ["y", entry({ layer: 2, size: 1, sha256: "aa" })],
    ["same", entry({ layer: 0 })],
    ["extra", entry({ layer: 2 })],
  ]);
  const r = compareImages({ tree: podman, config: podmanConfig }, { tree: burrow, config: burrowConfig });
  assert.deepEqual(
    r.documented.map((d) => d.by.id),
    ["buildah-version-label", "buildah-run-mount-points"],
  );
  assert.deepEqual(
    r.runOwners.map((d) => d.path),
    ["app"],
  );
  assert.deepEqual(r.unexpected.map(describeDifference), [
    'config Cmd: podman ["sh"] | burrow ["bash"]',
    "/extra [only in burrow's] podman (absent) | burrow file 0644 0:0 0 B sha256: (step: /bin/sh -c #(nop) COPY file:x in /y)",
    "/y [owner] podman file 0644 1000:1000 1 B sha256:aa | burrow file 0644 0:0 1 B sha256:aa (step: /bin/sh -c #(nop) COPY file:x in /y)",
  ]);
});

test("a whiteout whose header keeps a stray link name (Buildah 1.28 on overlay) is still a whiteout", async () => {
  const tar = writeTar([
    { path: "etc/.wh.issue.net", type: "file", mode: 0 },
    { path: "usr/share/.wh.doc", type: "file", mode: 0, linkname: "etc/issue.net" },
    { path: "big", type: "file", content: Buffer.alloc(1500, 0x41) },
    { path: "usr/.wh.x", type: "file", mode: 0, linkname: "y" },
  ]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "image-tree-"));
  try {
    fs.writeFileSync(path.join(dir, "l"), tar);
    const entries = await readLayer(path.join(dir, "l"));
    assert.deepEqual(
      entries.map((e) => [e.path, e.linkname, e.size]),
      [
        ["etc/.wh.issue.net", undefined, 0],
        ["usr/share/.wh.doc", undefined, 0],
        ["big", undefined, 1500],
        ["usr/.wh.x", undefined, 0],
      ],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
