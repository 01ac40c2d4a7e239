// An image is its config: layers that are not the ones the config's diff_ids name (a forged image that
// reuses a genuine config) are refused by pull with nothing stored, a store tampered after the fact is
// reported by verify, and an image flattened unchecked (an older burrow) is never named "up to date".
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { makeTestHome, chownToTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import {
  MEDIA_TYPES,
  imageRef,
  layerFromEntries,
  pushBlob,
  pushImage,
  pushRawManifest,
  uniqueRepo,
} from "../harness/image-builder.js";
import type { Layer, PushedImage } from "../harness/image-builder.js";
import { alpineLayer, burrowIn, DOCKER_PATH, ok, show } from "../harness/suite.js";

const GENUINE = "genuine: the publisher's own file\n";
const EVIL = "evil!!!: the forger's own file!!!\n"; // as long as GENUINE: a same-size swap

let alpine: Layer;
let genuineTop: Layer;
let evilTop: Layer;
let evilBase: Layer;
let genuine: PushedImage;
let unrelated: PushedImage;

const files = (motd: string): Parameters<typeof layerFromEntries>[0] => [
  { path: "etc/", type: "dir" },
  { path: "etc/motd-burrow", type: "file", content: motd },
  { path: "usr/", type: "dir" },
  { path: "usr/local/", type: "dir" },
  { path: "usr/local/bin/", type: "dir" },
  {
    path: "usr/local/bin/tool",
    type: "file",
    content: `#!/bin/sh\necho ${motd.split(":")[0]}\n`,
    mode: 0o755,
  },
];

before(async () => {
  alpine = await alpineLayer();
  genuineTop = await layerFromEntries(files(GENUINE));
  evilTop = await layerFromEntries(files(EVIL));
  evilBase = await layerFromEntries([{ path: "bin/", type: "dir" }, ...files(EVIL)]);
  assert.equal(GENUINE.length, EVIL.length);
  genuine = await pushImage("plain", uniqueRepo("genuine"), "1", [alpine, genuineTop], {
    config: { Cmd: ["/usr/local/bin/tool"], Env: [`PATH=${DOCKER_PATH}`] },
  });
  unrelated = await pushImage("plain", uniqueRepo("unrelated"), "1", [alpine], {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
  });
});

/** Pushes a manifest naming the genuine image's config (the very bytes) over `layers`, to a new repository. */
async function pushForged(layers: Layer[]): Promise<string> {
  const repo = uniqueRepo("forged");
  await pushBlob("plain", repo, genuine.config);
  for (const l of layers) await pushBlob("plain", repo, l.blob);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, size: genuine.config.length, digest: genuine.configDigest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  };
  await pushRawManifest("plain", repo, "1", manifest, MEDIA_TYPES.ociManifest);
  return imageRef("plain", repo, "1");
}

/** Everything in a store that a pull may change: image folders and records, names, blobs, leftovers. */
function storeState(home: TestHome): string[] {
  const out: string[] = [];
  for (const d of ["images", "refs", "blobs/sha256", "tmp"]) {
    const dir = path.join(home.burrowDir, d);
    if (!fs.existsSync(dir)) continue;
    for (const n of fs.readdirSync(dir).sort()) {
      if (d === "tmp" && !n.startsWith(".tmp") && !n.includes("staging")) continue;
      const p = path.join(dir, n);
      const rec = path.join(p, "image.json");
      out.push(
        `${d}/${n}${fs.existsSync(rec) ? ` ${fs.readFileSync(rec, "utf8").replace(/\s+/g, "")}` : ""}`,
      );
    }
  }
  return out;
}

async function withHome(
  fn: (home: TestHome, burrow: ReturnType<typeof burrowIn>) => Promise<void>,
): Promise<void> {
  const home = await makeTestHome();
  try {
    await fn(
      home,
      burrowIn(() => home),
    );
  } finally {
    await home.cleanup();
  }
}

async function rootfsOf(burrow: ReturnType<typeof burrowIn>, ref: string): Promise<string> {
  return ok(await burrow(["inspect", "-p", ref])).trim();
}

const forgeries: { name: string; layers: () => Layer[]; refusal: RegExp }[] = [
  {
    name: "its top layer swapped (same count)",
    layers: () => [alpine, evilTop],
    refusal: /layer 2 \(sha256:[a-f0-9]{64}\) is not the layer the image config names/,
  },
  {
    name: "its base layer swapped (same count)",
    layers: () => [evilBase, genuineTop],
    refusal: /layer 1 \(sha256:[a-f0-9]{64}\) is not the layer the image config names/,
  },
  {
    name: "its own layers in the wrong order",
    layers: () => [genuineTop, alpine],
    refusal: /layer 1 \(sha256:[a-f0-9]{64}\) is not the layer the image config names/,
  },
  {
    name: "one layer more",
    layers: () => [alpine, genuineTop, evilTop],
    refusal: /its manifest lists 3 layers and its config 2/,
  },
  {
    name: "one layer fewer",
    layers: () => [evilBase],
    refusal: /its manifest lists 1 layer and its config 2/,
  },
];

for (const f of forgeries) {
  test(`a forged image (the genuine config, ${f.name}) is refused; the store is unchanged; the genuine one then pulls its own files`, async () => {
    await withHome(async (home, burrow) => {
      ok(await burrow(["pull", unrelated.ref]));
      const before_ = storeState(home);
      const forged = await pushForged(f.layers());
      const r = await burrow(["pull", forged]);
      assert.equal(r.code, 1, show(r));
      assert.equal(r.stderr.trim().split("\n").length, 1, `one line:\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`refusing ${forged.replace(/[.]/g, "\\.")}: `));
      assert.match(r.stderr, f.refusal);
      assert.match(r.stderr, /forged from another image's config; nothing was stored/);
      assert.deepEqual(storeState(home), before_, "the refused pull left the store as it was");
      assert.equal((await burrow(["inspect", forged])).code, 1, "the forged name is not in the store");

      const g = await burrow(["pull", genuine.ref]);
      assert.equal(g.code, 0, show(g));
      assert.match(g.stdout, /Downloaded newer image/, "not taken for up to date");
      const root = await rootfsOf(burrow, genuine.ref);
      assert.equal(fs.readFileSync(path.join(root, "etc/motd-burrow"), "utf8"), GENUINE);
      assert.equal(ok(await burrow(["verify", genuine.ref])).trim(), `${genuine.ref}: OK`);
    });
  });
}

test("the genuine image runs its own files after a refused forgery (the image id is not taken)", async () => {
  await withHome(async (_home, burrow) => {
    assert.equal((await burrow(["pull", await pushForged([alpine, evilTop])])).code, 1);
    const r = await burrow(["run", "--rm", genuine.ref]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), "genuine");
  });
});

test("the same layers compressed otherwise match the config's diff_ids and are accepted", async () => {
  await withHome(async (_home, burrow) => {
    const recompressed = await layerFromEntries(files(GENUINE), "zstd");
    assert.notEqual(recompressed.digest, genuineTop.digest);
    const ref = await pushForged([alpine, recompressed]);
    ok(await burrow(["pull", ref]));
    assert.equal(fs.readFileSync(path.join(await rootfsOf(burrow, ref), "etc/motd-burrow"), "utf8"), GENUINE);
    assert.equal(ok(await burrow(["verify", ref])).trim(), `${ref}: OK`);
  });
});

test("with the genuine image stored, a forged name gets the genuine files, and a count mismatch is refused", async () => {
  await withHome(async (_home, burrow) => {
    ok(await burrow(["pull", genuine.ref]));
    const same = await pushForged([alpine, evilTop]);
    ok(await burrow(["pull", same]));
    assert.equal(
      fs.readFileSync(path.join(await rootfsOf(burrow, same), "etc/motd-burrow"), "utf8"),
      GENUINE,
      "the stored rootfs is the config's, whatever the forged manifest names",
    );
    const more = await burrow(["pull", await pushForged([alpine, genuineTop, evilTop])]);
    assert.equal(more.code, 1, show(more));
    assert.match(more.stderr, /its manifest lists 3 layers and its config 2/);
  });
});

/** The image record of `ref` in the store, its file, and its rootfs. */
async function stored(
  home: TestHome,
  burrow: ReturnType<typeof burrowIn>,
  ref: string,
): Promise<{
  file: string;
  record: Record<string, unknown> & { layers: { digest: string }[] };
  root: string;
}> {
  const root = await rootfsOf(burrow, ref);
  const file = path.join(path.dirname(root), "image.json");
  return { file, record: JSON.parse(fs.readFileSync(file, "utf8")) as never, root };
}

test("an image an older burrow flattened from forged layers is reported by verify and never named up to date", async () => {
  await withHome(async (home, burrow) => {
    ok(await burrow(["pull", genuine.ref]));
    // What an unchecked pull of the forgery left: its layer blob, the record naming it, its files.
    const { file, record, root } = await stored(home, burrow, genuine.ref);
    const blob = path.join(home.burrowDir, "blobs", "sha256", evilTop.digest.slice(7));
    fs.writeFileSync(blob, evilTop.blob);
    await chownToTestUser(blob);
    record.layers[1] = { ...record.layers[1], digest: evilTop.digest, size: evilTop.size } as never;
    delete record.diffIds;
    fs.writeFileSync(file, JSON.stringify(record, null, 2));
    fs.writeFileSync(path.join(root, "etc/motd-burrow"), EVIL);

    const v = await burrow(["verify", genuine.ref]);
    assert.equal(v.code, 1, show(v));
    assert.match(v.stdout, /DAMAGED/);
    assert.match(v.stdout, /layer 2 sha256:[a-f0-9]{64} is not the layer the config names/);
    assert.match(v.stdout, /the manifest names other layers than the image record/);
    assert.match(v.stderr, /is damaged: run 'burrow rmi/);

    const again = await burrow(["pull", genuine.ref]);
    assert.equal(again.code, 1, show(again));
    assert.equal(again.stderr.trim().split("\n").length, 1, again.stderr);
    assert.match(again.stderr, /the stored image [a-f0-9]{12} is not what its config describes/);
    assert.match(again.stderr, /run 'burrow rmi [a-f0-9]{12}' and pull it again/);
    assert.doesNotMatch(again.stdout, /up to date/);

    ok(await burrow(["rmi", genuine.ref]));
    ok(await burrow(["pull", genuine.ref]));
    const fresh = await rootfsOf(burrow, genuine.ref);
    assert.equal(fs.readFileSync(path.join(fresh, "etc/motd-burrow"), "utf8"), GENUINE);
  });
});

test("an image flattened unchecked from its own layers is checked once, then up to date as before", async () => {
  await withHome(async (home, burrow) => {
    ok(await burrow(["pull", genuine.ref]));
    const { file, record } = await stored(home, burrow, genuine.ref);
    delete record.diffIds;
    fs.writeFileSync(file, JSON.stringify(record, null, 2));
    const again = await burrow(["pull", genuine.ref]);
    assert.equal(again.code, 0, show(again));
    assert.match(again.stdout, /Image is up to date/);
    assert.ok(Array.isArray((JSON.parse(fs.readFileSync(file, "utf8")) as { diffIds?: unknown }).diffIds));
  });
});

const tamperings: {
  name: string;
  tamper: (s: { root: string; blobs: string; layers: { digest: string }[] }) => void;
  says: RegExp;
}[] = [
  {
    name: "a layer blob rewritten",
    tamper: ({ blobs, layers }) => fs.appendFileSync(path.join(blobs, layers[1]!.digest.slice(7)), "x"),
    says: /layer 2 sha256:[a-f0-9]{64} is corrupt/,
  },
  {
    name: "a layer blob removed",
    tamper: ({ blobs, layers }) => fs.rmSync(path.join(blobs, layers[0]!.digest.slice(7))),
    says: /layer 1 sha256:[a-f0-9]{64} is missing/,
  },
  {
    name: "a rootfs file added",
    tamper: ({ root }) => fs.writeFileSync(path.join(root, "etc/planted"), "x"),
    says: /rootfs has \d+ files, the pull left \d+/,
  },
  {
    name: "a rootfs file rewritten to the same size",
    tamper: ({ root }) => fs.writeFileSync(path.join(root, "etc/motd-burrow"), EVIL),
    says: /rootfs: \/etc\/motd-burrow differs from the image's layers/,
  },
  {
    name: "a rootfs file's mode changed",
    tamper: ({ root }) => fs.chmodSync(path.join(root, "usr/local/bin/tool"), 0o4755),
    says: /rootfs: \/usr\/local\/bin\/tool differs from the image's layers/,
  },
  {
    name: "a rootfs file replaced by a symlink",
    tamper: ({ root }) => {
      fs.rmSync(path.join(root, "etc/motd-burrow"));
      fs.symlinkSync("/etc/shadow", path.join(root, "etc/motd-burrow"));
    },
    says: /rootfs: \/etc\/motd-burrow differs from the image's layers/,
  },
];

for (const t of tamperings) {
  test(`verify reports a store tampered after the pull: ${t.name}`, async () => {
    await withHome(async (home, burrow) => {
      ok(await burrow(["pull", genuine.ref]));
      const { record, root } = await stored(home, burrow, genuine.ref);
      t.tamper({ root, blobs: path.join(home.burrowDir, "blobs", "sha256"), layers: record.layers });
      const v = await burrow(["verify", genuine.ref]);
      assert.equal(v.code, 1, show(v));
      assert.match(v.stdout, /DAMAGED/);
      assert.match(v.stdout, t.says);
      assert.equal(v.stderr.trim().split("\n").length, 1, v.stderr);
      assert.doesNotMatch(v.stderr, /internal error/);
    });
  });
}
