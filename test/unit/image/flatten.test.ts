// flattenLayers end to end: hostile layers (each checked against a sentinel next to the rootfs), whiteouts,
// tar variants, compression, modes, hardlinks and replacement rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { flattenLayers, type FlattenStats, type LayerInput } from "../../../src/image/flatten.js";
import { LayerFormatError, UnsafeLayerError } from "../../../src/errors.js";
import { buildTar, snapshot, tempDir, type Member } from "./tar-writer.js";

type Compression = "none" | "gzip" | "zstd";

interface Ctx {
  base: string;
  root: string;
  sentinel: string;
  /** Writes a layer blob (outside `base`) and describes it. */
  layer(members: Member[] | Buffer, compression?: Compression, mediaType?: string): LayerInput;
  /** Flattens the layers into the rootfs, collecting warnings. */
  flatten(layers: LayerInput[]): Promise<FlattenStats>;
  warnings: string[];
}

let blobCount = 0;

/** Runs `fn` with an empty rootfs and a sentinel directory beside it that must never change. */
async function withRoot(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const t = tempDir();
  const blobs = tempDir("burrow-blobs-");
  try {
    const base = path.join(t.dir, "base");
    const root = path.join(base, "rootfs");
    const sentinel = path.join(base, "sentinel");
    fs.mkdirSync(root, { recursive: true });
    fs.mkdirSync(path.join(sentinel, "sub"), { recursive: true });
    fs.writeFileSync(path.join(sentinel, "victim"), "keep me");
    fs.writeFileSync(path.join(sentinel, "sub", "deep"), "keep me too");
    fs.symlinkSync("victim", path.join(sentinel, "lnk"));
    const before = snapshot(sentinel);
    const warnings: string[] = [];
    const ctx: Ctx = {
      base,
      root,
      sentinel,
      warnings,
      layer(members, compression = "none", mediaType) {
        const tar = Buffer.isBuffer(members) ? members : buildTar(members);
        const file = path.join(blobs.dir, `blob${blobCount++}`);
        let blob = tar;
        if (compression === "gzip") blob = zlib.gzipSync(tar);
        if (compression === "zstd") blob = execFileSync("zstd", ["-q", "-c"], { input: tar });
        fs.writeFileSync(file, blob);
        const suffix = compression === "none" ? "" : `+${compression}`;
        return {
          digest: `sha256:test${blobCount}`,
          mediaType: mediaType ?? `application/vnd.oci.image.layer.v1.tar${suffix}`,
          file,
          size: blob.length,
        };
      },
      flatten: (layers) => flattenLayers(root, layers, { warn: (m) => warnings.push(m) }),
    };
    await fn(ctx);
    assert.deepEqual(snapshot(sentinel), before, "the sentinel beside the rootfs changed");
    assert.deepEqual(
      fs.readdirSync(base).sort(),
      ["rootfs", "sentinel"],
      "something was created beside the rootfs",
    );
  } finally {
    t.cleanup();
    blobs.cleanup();
  }
}

const read = (root: string, rel: string): string => fs.readFileSync(path.join(root, rel), "utf8");
const lstat = (root: string, rel: string): fs.Stats | undefined =>
  fs.lstatSync(path.join(root, rel), { throwIfNoEntry: false });

/** Every path below `root` whose basename starts with `.wh.`. */
function whiteoutsLeft(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((p) =>
    path.basename(p).startsWith(".wh."),
  );
}

// ---- hostile layers ------------------------------------------------------------------------------------

test("a member whose .. leaves the root refuses the layer", async () => {
  await withRoot(async (c) => {
    const err = await c
      .flatten([
        c.layer([
          { path: "ok", data: "1" },
          { path: "../sentinel/victim", data: "pwned" },
        ]),
      ])
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnsafeLayerError);
    assert.match(err.message, /layer sha256:test\d+, entry "\.\.\/sentinel\/victim"/);
    assert.ok(err.cause instanceof Error);
  });
});

test("a member with .. deeper in its path that leaves the root refuses the layer", async () => {
  await withRoot(async (c) => {
    await assert.rejects(
      c.flatten([c.layer([{ path: "a/b/../../../sentinel/new", data: "x" }])]),
      UnsafeLayerError,
    );
  });
});

test("absolute member names are taken relative to the rootfs", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: `${c.sentinel}/victim`, data: "inside" },
        { path: "/etc/passwd", data: "root" },
      ]),
    ]);
    assert.equal(read(c.root, c.sentinel.slice(1) + "/victim"), "inside");
    assert.equal(read(c.root, "etc/passwd"), "root");
  });
});

test("a relative symlink escaping the root cannot carry a later write outside (same layer)", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "esc", type: "2", linkpath: "../../sentinel" },
        { path: "esc/victim", data: "pwned" },
      ]),
    ]);
    // `..` clamps at the root, so esc resolves to /sentinel inside the rootfs.
    assert.equal(read(c.root, "sentinel/victim"), "pwned");
    assert.equal(lstat(c.root, "esc")!.isSymbolicLink(), true);
  });
});

test("an absolute symlink is re-rooted at the rootfs for later writes", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "abs", type: "2", linkpath: c.sentinel },
        { path: "abs/victim", data: "pwned" },
      ]),
    ]);
    assert.equal(read(c.root, c.sentinel.slice(1) + "/victim"), "pwned");
  });
});

test("a symlink from an earlier layer cannot carry a later layer's write outside", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "up", type: "2", linkpath: "../../../../../../.." },
        { path: "slash", type: "2", linkpath: "/" },
      ]),
      c.layer([
        { path: "up/base/sentinel/victim", data: "pwned" },
        { path: "slash/x/file", data: "in" },
        { path: `up${c.sentinel}/new`, data: "in" },
      ]),
    ]);
    assert.equal(read(c.root, "base/sentinel/victim"), "pwned");
    assert.equal(read(c.root, "x/file"), "in");
    assert.equal(read(c.root, c.sentinel.slice(1) + "/new"), "in");
  });
});

test("a regular file over a final-component symlink replaces the symlink instead of writing through it", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "f", type: "2", linkpath: path.join(c.sentinel, "victim") },
        { path: "r", type: "2", linkpath: "../sentinel/victim" },
      ]),
      c.layer([
        { path: "f", data: "new" },
        { path: "r", data: "new too" },
      ]),
    ]);
    assert.equal(lstat(c.root, "f")!.isFile(), true);
    assert.equal(read(c.root, "f"), "new");
    assert.equal(read(c.root, "r"), "new too");
  });
});

test("a directory member over a symlink to an outside directory replaces the symlink", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([{ path: "d", type: "2", linkpath: "../sentinel" }]),
      c.layer([
        { path: "d/", type: "5", mode: 0o777 },
        { path: "d/victim", data: "inside" },
      ]),
    ]);
    assert.equal(lstat(c.root, "d")!.isDirectory(), true);
    assert.equal(read(c.root, "d/victim"), "inside");
  });
});

test("a hardlink whose target leaves the root refuses the layer", async () => {
  await withRoot(async (c) => {
    const err = await c
      .flatten([c.layer([{ path: "h", type: "1", linkpath: "../sentinel/victim" }])])
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnsafeLayerError);
    assert.equal(lstat(c.root, "h"), undefined);
  });
});

test("a hardlink whose target resolves through a symlink stays inside the root", async () => {
  await withRoot(async (c) => {
    await assert.rejects(
      c.flatten([
        c.layer([
          { path: "s", type: "2", linkpath: "../sentinel" },
          { path: "h", type: "1", linkpath: "s/victim" },
        ]),
      ]),
      LayerFormatError,
    );
    await assert.rejects(
      c.flatten([
        c.layer([
          { path: "a", type: "2", linkpath: c.sentinel },
          { path: "h2", type: "1", linkpath: "a/victim" },
        ]),
      ]),
      LayerFormatError,
    );
    assert.equal(lstat(c.root, "h"), undefined);
    assert.equal(lstat(c.root, "h2"), undefined);
  });
});

test("a hardlink to an absolute target name links the member inside the root", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "etc/passwd", data: "root:x" },
        { path: "h", type: "1", linkpath: "/etc/passwd" },
      ]),
    ]);
    assert.equal(lstat(c.root, "h")!.ino, lstat(c.root, "etc/passwd")!.ino);
  });
});

test("a hardlink to a symlink links the symlink itself", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "s", type: "2", linkpath: path.join(c.sentinel, "victim") },
        { path: "h", type: "1", linkpath: "s" },
      ]),
    ]);
    const h = lstat(c.root, "h")!;
    assert.equal(h.isSymbolicLink(), true);
    assert.equal(h.ino, lstat(c.root, "s")!.ino);
  });
});

test("a hardlink member over a symlink replaces the symlink", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "t", data: "target" },
        { path: "h", type: "2", linkpath: "../sentinel/victim" },
      ]),
      c.layer([{ path: "h", type: "1", linkpath: "t" }]),
    ]);
    assert.equal(lstat(c.root, "h")!.ino, lstat(c.root, "t")!.ino);
  });
});

test("a whiteout under a symlinked directory never deletes outside the root", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "s", type: "2", linkpath: "../sentinel" },
        { path: "a", type: "2", linkpath: c.sentinel },
      ]),
      c.layer([{ path: "s/.wh.victim" }, { path: "a/.wh.sub" }, { path: "a/.wh.lnk" }]),
    ]);
    assert.equal(lstat(c.root, "s")!.isSymbolicLink(), true);
  });
});

test("an opaque marker under a symlinked directory never empties an outside directory", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "s", type: "2", linkpath: "../sentinel" },
        { path: "a", type: "2", linkpath: c.sentinel },
      ]),
      c.layer([{ path: "s/.wh..wh..opq" }, { path: "a/.wh..wh..opq" }]),
    ]);
  });
});

test("a whiteout naming . or .. refuses the layer", async () => {
  await withRoot(async (c) => {
    await c.flatten([c.layer([{ path: "d/f", data: "x" }])]);
    await assert.rejects(c.flatten([c.layer([{ path: "d/.wh.." }])]), UnsafeLayerError);
    await assert.rejects(c.flatten([c.layer([{ path: ".wh.." }])]), UnsafeLayerError);
    assert.equal(read(c.root, "d/f"), "x");
  });
});

test("a symlink loop in a member's parents refuses the layer", async () => {
  await withRoot(async (c) => {
    await assert.rejects(
      c.flatten([
        c.layer([
          { path: "a", type: "2", linkpath: "b" },
          { path: "b", type: "2", linkpath: "a" },
          { path: "a/x", data: "1" },
        ]),
      ]),
      UnsafeLayerError,
    );
  });
});

test("device nodes are skipped with one warning per layer", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([
      c.layer([
        { path: "dev/null", type: "3", mode: 0o666 },
        { path: "dev/sda", type: "4", mode: 0o660 },
        { path: "dev/ok", data: "1" },
      ]),
    ]);
    assert.equal(stats.skipped, 2);
    assert.equal(c.warnings.length, 1);
    assert.match(c.warnings[0]!, /layer sha256:test\d+: skipped 2 device nodes \(dev\/null, dev\/sda\)/);
    assert.equal(lstat(c.root, "dev/null"), undefined);
    assert.equal(read(c.root, "dev/ok"), "1");
  });
});

test("members replacing the root itself refuse the layer", async () => {
  await withRoot(async (c) => {
    await assert.rejects(
      c.flatten([c.layer([{ path: "./", type: "2", linkpath: "/etc" }])]),
      UnsafeLayerError,
    );
    await assert.rejects(c.flatten([c.layer([{ path: "/", data: "x" }])]), UnsafeLayerError);
  });
});

// ---- whiteouts -----------------------------------------------------------------------------------------

test("a file whiteout removes the lower file and leaves no .wh. file", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([
      c.layer([
        { path: "etc/a", data: "1" },
        { path: "etc/b", data: "2" },
      ]),
      c.layer([{ path: "etc/.wh.a" }]),
    ]);
    assert.equal(lstat(c.root, "etc/a"), undefined);
    assert.equal(read(c.root, "etc/b"), "2");
    assert.equal(stats.whiteouts, 1);
    assert.deepEqual(whiteoutsLeft(c.root), []);
  });
});

test("a directory whiteout removes the lower directory with its content", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "d/", type: "5" },
        { path: "d/sub/x", data: "1" },
        { path: "d/y", type: "2", linkpath: "/" },
      ]),
      c.layer([{ path: ".wh.d" }, { path: ".wh.missing" }]),
    ]);
    assert.equal(lstat(c.root, "d"), undefined);
    assert.deepEqual(whiteoutsLeft(c.root), []);
  });
});

test("an opaque marker at the layer root removes every lower entry and keeps this layer's", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "old/f", data: "1" },
        { path: "keep", data: "lower" },
      ]),
      c.layer([{ path: "new", data: "2" }, { path: ".wh..wh..opq" }, { path: "later", data: "3" }]),
    ]);
    assert.deepEqual(fs.readdirSync(c.root).sort(), ["later", "new"]);
  });
});

test("a deep opaque marker keeps the children this layer added before it and drops the lower ones", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "a/b/old", data: "1" },
        { path: "a/b/sub/old2", data: "1" },
        { path: "a/sibling", data: "s" },
      ]),
      c.layer([
        { path: "a/b/", type: "5" },
        { path: "a/b/new", data: "2" },
        { path: "a/b/sub/new2", data: "2" },
        { path: "a/b/.wh..wh..opq" },
        { path: "a/b/after", data: "3" },
      ]),
    ]);
    assert.deepEqual(fs.readdirSync(path.join(c.root, "a/b")).sort(), ["after", "new", "sub"]);
    assert.deepEqual(fs.readdirSync(path.join(c.root, "a/b/sub")), ["new2"]);
    assert.equal(read(c.root, "a/sibling"), "s");
    assert.deepEqual(whiteoutsLeft(c.root), []);
  });
});

test("a whiteout after the same name in the same layer does not delete that layer's entry", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "d/lower", data: "l" },
        { path: "f", data: "lower" },
      ]),
      c.layer([
        { path: "x", data: "mine" },
        { path: ".wh.x" },
        { path: "d/mine", data: "m" },
        { path: ".wh.d" },
        { path: "f", data: "upper" },
        { path: ".wh.f" },
      ]),
    ]);
    assert.equal(read(c.root, "x"), "mine");
    assert.equal(read(c.root, "f"), "upper");
    // The lower content of d is whited out, what this layer put there stays.
    assert.deepEqual(fs.readdirSync(path.join(c.root, "d")), ["mine"]);
  });
});

test("a whiteout before the same name in the same layer removes the lower entry only", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([{ path: "d/lower", data: "l" }]),
      c.layer([{ path: ".wh.d" }, { path: "d/new", data: "n" }]),
    ]);
    assert.deepEqual(fs.readdirSync(path.join(c.root, "d")), ["new"]);
  });
});

test("members under a .wh. directory name are skipped with a warning", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([c.layer([{ path: ".wh.d/file", data: "x" }])]);
    assert.equal(stats.skipped, 1);
    assert.deepEqual(fs.readdirSync(c.root), []);
  });
});

// ---- formats, compression ------------------------------------------------------------------------------

test("GNU long names, PAX paths, ustar prefixes and base-256 sizes all land at the right paths", async () => {
  await withRoot(async (c) => {
    const long = "l".repeat(60) + "/" + "m".repeat(60) + "/file";
    await c.flatten([
      c.layer([
        { path: long, gnuLong: true, data: "gnu" },
        { path: "short", pax: { path: "pax/" + "p".repeat(120), mtime: "1000000000.25" }, data: "pax" },
        { path: "pre/" + "q".repeat(90), prefixSplit: 3, data: "ustar" },
        { path: "b256", base256Size: true, data: "base256" },
        { path: "lnk", gnuLong: true, type: "2", linkpath: "t/".repeat(70) + "x" },
      ]),
    ]);
    assert.equal(read(c.root, long), "gnu");
    assert.equal(read(c.root, "pax/" + "p".repeat(120)), "pax");
    assert.equal(lstat(c.root, "pax/" + "p".repeat(120))!.mtimeMs, 1000000000250);
    assert.equal(read(c.root, "pre/" + "q".repeat(90)), "ustar");
    assert.equal(read(c.root, "b256"), "base256");
    assert.equal(fs.readlinkSync(path.join(c.root, "lnk")), "t/".repeat(70) + "x");
  });
});

for (const compression of ["none", "gzip", "zstd"] as const) {
  test(`a ${compression} layer is extracted, whatever its media type claims`, async () => {
    await withRoot(async (c) => {
      const members = [{ path: "f", data: "z".repeat(100_000) }];
      await c.flatten([
        c.layer(members, compression),
        c.layer([{ path: "g", data: "1" }], compression, "application/vnd.docker.image.rootfs.diff.tar.gzip"),
      ]);
      assert.equal(read(c.root, "f"), "z".repeat(100_000));
      assert.equal(read(c.root, "g"), "1");
    });
  });
}

test("nondistributable, docker foreign and zstd media types are accepted; others are refused", async () => {
  await withRoot(async (c) => {
    const types = [
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
    ];
    await c.flatten(types.map((t, i) => c.layer([{ path: `f${i}`, data: "x" }], "gzip", t)));
    const err = await c
      .flatten([c.layer([{ path: "x" }], "none", "application/vnd.oci.image.config.v1+json")])
      .catch((e: unknown) => e);
    assert.ok(err instanceof LayerFormatError);
    assert.match(err.message, /is not a tar layer/);
  });
});

test("a truncated tar inside a valid gzip stream is a LayerFormatError naming the layer and entry", async () => {
  await withRoot(async (c) => {
    const tar = buildTar([{ path: "big", data: "x".repeat(5000) }]);
    const layer = c.layer(tar.subarray(0, 2048), "gzip");
    const err = await c.flatten([layer]).catch((e: unknown) => e);
    assert.ok(err instanceof LayerFormatError);
    assert.match(err.message, new RegExp(`layer ${layer.digest}, entry "big": truncated`));
  });
});

test("a truncated gzip or zstd blob is a LayerFormatError", async () => {
  await withRoot(async (c) => {
    const tar = buildTar([{ path: "big", data: Buffer.alloc(300_000, 7) }]);
    for (const compression of ["gzip", "zstd"] as const) {
      const layer = c.layer(tar, compression);
      fs.truncateSync(layer.file, Math.floor(layer.size / 2));
      await assert.rejects(c.flatten([layer]), LayerFormatError, compression);
    }
  });
});

test("garbage instead of a tar stream is a LayerFormatError", async () => {
  await withRoot(async (c) => {
    await assert.rejects(c.flatten([c.layer(Buffer.alloc(2048, 0x41))]), LayerFormatError);
  });
});

test("bzip2 and xz blobs are refused with a LayerFormatError that names the compression", async () => {
  await withRoot(async (c) => {
    await assert.rejects(
      c.flatten([c.layer(Buffer.from("BZh91AY&SY" + "x".repeat(600)))]),
      /bzip2-compressed/,
    );
    const xz = Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(600)]);
    await assert.rejects(c.flatten([c.layer(xz)]), LayerFormatError);
  });
});

// ---- modes, times, links, replacement ------------------------------------------------------------------

test("files stay user-readable and writable, directories user-accessible, other bits kept", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "ro", data: "1", mode: 0o400 },
        { path: "none", data: "1", mode: 0o000 },
        { path: "suid", data: "1", mode: 0o4755 },
        { path: "gw", data: "1", mode: 0o664 },
        { path: "locked/", type: "5", mode: 0o500 },
        { path: "locked/inner", data: "1", mode: 0o444 },
        { path: "sticky/", type: "5", mode: 0o1777 },
      ]),
    ]);
    const mode = (rel: string): number => lstat(c.root, rel)!.mode & 0o7777;
    assert.equal(mode("ro"), 0o600);
    assert.equal(mode("none"), 0o600);
    assert.equal(mode("suid"), 0o4755);
    assert.equal(mode("gw"), 0o664);
    assert.equal(mode("locked"), 0o700);
    assert.equal(mode("locked/inner"), 0o644);
    assert.equal(mode("sticky"), 0o1777);
  });
});

test("file, symlink and directory mtimes are set, directories' after their content is written", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "d/", type: "5", mtime: 1_000_000 },
        { path: "d/f", data: "1", mtime: 2_000_000 },
        { path: "d/l", type: "2", linkpath: "f", mtime: 3_000_000 },
        { path: "./", type: "5", mtime: 4_000_000 },
      ]),
    ]);
    assert.equal(lstat(c.root, "d")!.mtimeMs, 1_000_000_000);
    assert.equal(lstat(c.root, "d/f")!.mtimeMs, 2_000_000_000);
    assert.equal(lstat(c.root, "d/l")!.mtimeMs, 3_000_000_000);
    assert.equal(lstat(c.root, "")!.mtimeMs, 4_000_000_000);
  });
});

test("a directory whose parent a later layer turns into a symlink gets no mtime through it", async () => {
  await withRoot(async (c) => {
    const outside = fs.lstatSync(path.join(c.sentinel, "sub")).mtimeMs;
    await c.flatten([
      c.layer([
        { path: "a/", type: "5" },
        { path: "a/sub/", type: "5", mtime: 1 },
        { path: "l/", type: "5" },
        { path: "l/sub/", type: "5", mtime: 1 },
      ]),
      c.layer([
        { path: "a", type: "2", linkpath: c.sentinel },
        { path: "l", type: "2", linkpath: "l" },
      ]),
    ]);
    assert.equal(fs.lstatSync(path.join(c.sentinel, "sub")).mtimeMs, outside);
  });
});

test("hardlinks share the inode of their target, also across layers", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([
      c.layer([
        { path: "bin/a", data: "exe" },
        { path: "bin/b", type: "1", linkpath: "bin/a" },
      ]),
      c.layer([
        { path: "bin/c", type: "1", linkpath: "./bin/a" },
        { path: "bin/c", type: "1", linkpath: "bin/a" },
      ]),
    ]);
    const ino = lstat(c.root, "bin/a")!.ino;
    assert.equal(lstat(c.root, "bin/b")!.ino, ino);
    assert.equal(lstat(c.root, "bin/c")!.ino, ino);
    assert.equal(stats.hardlinks, 3);
    await assert.rejects(
      c.flatten([c.layer([{ path: "x", type: "1", linkpath: "missing" }])]),
      LayerFormatError,
    );
    await assert.rejects(c.flatten([c.layer([{ path: "x", type: "1", linkpath: "bin" }])]), LayerFormatError);
  });
});

test("a file rewritten by a later layer does not change other hardlinks to the old file", async () => {
  await withRoot(async (c) => {
    await c.flatten([
      c.layer([
        { path: "a", data: "old" },
        { path: "b", type: "1", linkpath: "a" },
      ]),
      c.layer([{ path: "a", data: "new" }]),
    ]);
    assert.equal(read(c.root, "a"), "new");
    assert.equal(read(c.root, "b"), "old");
  });
});

test("replacing a directory with a file or symlink removes the directory; a directory over a directory merges", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([
      c.layer([
        { path: "d1/x", data: "1" },
        { path: "d2/y", data: "2" },
        { path: "d3/z", data: "3" },
        { path: "f", data: "file" },
      ]),
      c.layer([
        { path: "d1", data: "now a file" },
        { path: "d2", type: "2", linkpath: "d3" },
        { path: "d3/", type: "5", mode: 0o750 },
        { path: "d3/w", data: "4" },
        { path: "f/", type: "5" },
        { path: "s", type: "2", linkpath: "one" },
        { path: "s", type: "2", linkpath: "two" },
      ]),
    ]);
    assert.equal(read(c.root, "d1"), "now a file");
    assert.equal(fs.readlinkSync(path.join(c.root, "d2")), "d3");
    assert.deepEqual(fs.readdirSync(path.join(c.root, "d3")).sort(), ["w", "z"]);
    assert.equal(lstat(c.root, "d3")!.mode & 0o777, 0o750);
    assert.equal(lstat(c.root, "f")!.isDirectory(), true);
    assert.equal(fs.readlinkSync(path.join(c.root, "s")), "two");
    assert.equal(stats.files, 6);
    assert.equal(stats.symlinks, 3);
  });
});

test("members whose parents are missing get their directories created", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([c.layer([{ path: "a/b/c/file", data: "1" }])]);
    assert.equal(read(c.root, "a/b/c/file"), "1");
    assert.equal(stats.files, 1);
    assert.equal(stats.bytes, 1);
  });
});

test("fifos are created when mkfifo is available, else skipped with a warning", async () => {
  await withRoot(async (c) => {
    const stats = await c.flatten([c.layer([{ path: "run/initctl", type: "6", mode: 0o600 }])]);
    const st = lstat(c.root, "run/initctl");
    if (st === undefined) {
      assert.equal(stats.skipped, 1);
      assert.match(c.warnings[0]!, /fifo/);
    } else {
      assert.equal(st.isFIFO(), true);
    }
  });
});

test("progress reports the compressed bytes read per layer", async () => {
  await withRoot(async (c) => {
    const layers = [
      c.layer([{ path: "a", data: "1" }], "gzip"),
      c.layer([{ path: "b", data: "2" }]),
      c.layer([{ path: "z", data: "3" }], "zstd"),
    ];
    const seen = new Map<number, number>();
    await flattenLayers(c.root, layers, { warn: () => {}, onLayerProgress: (i, n) => seen.set(i, n) });
    assert.equal(seen.get(0), layers[0]!.size);
    assert.equal(seen.get(1), layers[1]!.size);
    assert.equal(seen.get(2), layers[2]!.size);
  });
});

// ---- archives written by GNU tar itself ----------------------------------------------------------------

for (const format of ["gnu", "pax", "ustar", "v7"] as const) {
  test(`a tree archived by GNU tar --format=${format} flattens to the same tree`, async (t) => {
    const src = tempDir("burrow-src-");
    try {
      const s = src.dir;
      const deep = format === "v7" ? "d/e" : "d/" + "x".repeat(60) + "/" + "y".repeat(60);
      fs.mkdirSync(path.join(s, deep), { recursive: true });
      fs.writeFileSync(path.join(s, deep, format === "v7" ? "f" : "f".repeat(90)), "long");
      fs.writeFileSync(path.join(s, "exe"), "#!/bin/sh\n", { mode: 0o755 });
      fs.writeFileSync(path.join(s, "empty"), "");
      fs.writeFileSync(path.join(s, "big"), Buffer.alloc(1 << 20, 3));
      fs.symlinkSync("exe", path.join(s, "sym"));
      fs.linkSync(path.join(s, "exe"), path.join(s, "hard"));
      if (format === "pax") fs.writeFileSync(path.join(s, "ünïcødé"), "u");
      for (const p of fs.readdirSync(s, { recursive: true }) as string[]) {
        fs.lutimesSync(path.join(s, p), 1_500_000_000, 1_500_000_000);
      }
      let tar: Buffer;
      try {
        tar = execFileSync("tar", [`--format=${format}`, "-C", s, "-cf", "-", "."], { maxBuffer: 64 << 20 });
      } catch (err) {
        t.skip(`GNU tar cannot write --format=${format}: ${(err as Error).message.split("\n")[0]}`);
        return;
      }
      await withRoot(async (c) => {
        await c.flatten([c.layer(tar, "gzip")]);
        const strip = (snap: Record<string, string>): Record<string, string> =>
          Object.fromEntries(Object.entries(snap).map(([k, v]) => [k, v.replace(/ ino=\d+$/, "")]));
        const got = strip(snapshot(c.root));
        const want = strip(snapshot(s));
        delete got["."];
        delete want["."];
        assert.deepEqual(got, want);
        assert.equal(lstat(c.root, "hard")!.ino, lstat(c.root, "exe")!.ino);
      });
    } finally {
      src.cleanup();
    }
  });
}
