// burrow save and load against the real registry and skopeo, as the unprivileged test user: round trips,
// archives skopeo writes, archives skopeo reads, and bad archives that must change nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { testEnv, spawnBurrow, makeTestHome, chownToTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import {
  layerFromEntries,
  layerFromTarball,
  pushImage,
  skopeoFlags,
  uniqueRepo,
} from "../harness/image-builder.js";
import type { Layer, PushedImage } from "../harness/image-builder.js";
import { runProgram } from "../harness/proc.js";
import { writeTar } from "../harness/tar-writer.js";
import type { TarEntry } from "../harness/tar-writer.js";
import { burrowIn, plainRegistryEnv } from "../harness/suite.js";
import { describeTree } from "./tree.js";

const env = () => testEnv();
/** The store that pulls and saves. */
let home: TestHome;
/** A second, empty store each load test gets a fresh one of. */
const homes: TestHome[] = [];
let pushed: PushedImage;
let pushedDocker: PushedImage;
let layers: Layer[];
let repo: string;
/** Where archives are written: a folder the test user owns. */
let work: string;

const burrow = burrowIn(() => home);

async function freshHome(): Promise<TestHome> {
  const h = await makeTestHome();
  homes.push(h);
  return h;
}

const sha256 = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

before(async () => {
  home = await makeTestHome();
  work = path.join(home.dir, "work");
  fs.mkdirSync(work);
  await chownToTestUser(work);
  repo = uniqueRepo("saveload");
  layers = [
    await layerFromTarball(env().alpine),
    await layerFromEntries([
      { path: "etc/", type: "dir" },
      { path: "etc/greeting", type: "file", content: "hello from layer 2\n" },
      { path: "etc/motd", type: "file", content: "to be removed\n" },
    ]),
    await layerFromEntries(
      [
        { path: "etc/.wh.motd", type: "file" },
        { path: "srv/", type: "dir" },
        { path: "srv/data", type: "file", content: "layer 3 data\n" },
      ],
      "none",
    ),
  ];
  pushed = await pushImage("plain", repo, "1", layers, {
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
  });
  // The same image in Docker's format (same config): skopeo's docker-archive: copies start from it.
  pushedDocker = await pushImage("plain", repo, "docker", layers, {
    format: "docker",
    config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
  });
  assert.equal(pushedDocker.configDigest, pushed.configDigest);
  const r = await burrow(["pull", pushed.ref]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  for (const h of homes) await h.cleanup();
  await home.cleanup();
});

/** What a store holds, to compare before and after a failed load (hidden temp files included). */
function storeState(h: TestHome): string[] {
  const out: string[] = [];
  for (const sub of ["images", "refs", "blobs/sha256", "tmp"]) {
    const dir = path.join(h.burrowDir, sub);
    const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => !n.startsWith("claim-")) : [];
    for (const n of names.sort()) out.push(`${sub}/${n}`);
  }
  return out;
}

interface InspectOut {
  Id: string;
  ManifestDigest: string;
  RepoTags: string[];
  Burrow: { Layers: { digest: string }[] };
}

async function inspect(ref: string, h: TestHome): Promise<InspectOut> {
  const r = await burrow(["inspect", ref], { home: h });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as InspectOut[])[0]!;
}

/** The loaded image's files: layer 2 and 3 content there, the whiteout applied. */
async function checkRootfs(ref: string, h: TestHome): Promise<void> {
  const p = await burrow(["inspect", "-p", ref], { home: h });
  assert.equal(p.code, 0, p.stderr);
  const root = p.stdout.trim();
  assert.equal(fs.readFileSync(path.join(root, "etc/greeting"), "utf8"), "hello from layer 2\n");
  assert.equal(fs.readFileSync(path.join(root, "srv/data"), "utf8"), "layer 3 data\n");
  assert.ok(!fs.existsSync(path.join(root, "etc/motd")), "the whiteout of layer 3 is applied");
  assert.ok(fs.existsSync(path.join(root, "bin/busybox")));
}

test("save then load into an empty store gives the same image, which runs", async () => {
  const archive = path.join(work, "a.tar");
  const s = await burrow(["save", "-o", archive, pushed.ref]);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(s.stdout, "");
  assert.ok(fs.statSync(archive).size > layers[0]!.size);
  assert.deepEqual(
    fs.readdirSync(work).filter((n) => n.startsWith(".")),
    [],
    "no temp file is left beside the archive",
  );
  const listing = (await runProgram("tar", ["-tf", archive])).stdout.split("\n").filter(Boolean);
  for (const l of layers) assert.ok(listing.includes(`blobs/sha256/${l.digest.slice(7)}`), l.digest);
  for (const f of [
    "manifest.json",
    "index.json",
    "oci-layout",
    `blobs/sha256/${pushed.configDigest.slice(7)}`,
  ]) {
    assert.ok(listing.includes(f), f);
  }

  const second = await freshHome();
  const l = await burrow(["load", "-i", archive], { home: second });
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, `Loaded image: ${pushed.ref}\n`);
  const got = await inspect(pushed.ref, second);
  assert.equal(got.Id, pushed.configDigest);
  assert.equal(got.ManifestDigest, pushed.manifestDigest, "the registry's manifest travels in the archive");
  assert.deepEqual(
    got.Burrow.Layers.map((x) => x.digest),
    layers.map((x) => x.digest),
  );
  await checkRootfs(pushed.ref, second);
  const images = await burrow(["images"], { home: second });
  assert.match(images.stdout, new RegExp(`${repo}\\s+1\\s+${pushed.configDigest.slice(7, 19)}`));
  const v = await burrow(["verify", pushed.ref], { home: second });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const run = await burrow(["run", "--rm", pushed.ref, "cat", "/etc/greeting", "/srv/data"], {
    home: second,
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "hello from layer 2\nlayer 3 data\n");

  // Saved again from the second store: the same bytes (blobs, manifest and names are the same).
  const again = path.join(work, "again.tar");
  const s2 = await burrow(["save", "-o", again, pushed.ref], { home: second });
  assert.equal(s2.code, 0, s2.stderr);
  assert.equal(sha256(fs.readFileSync(again)), sha256(fs.readFileSync(archive)));

  // rmi works on it, and loading again brings it back.
  const rmi = await burrow(["rmi", pushed.ref], { home: second });
  assert.equal(rmi.code, 0, rmi.stderr);
  const l2 = await burrow(["load", "-i", archive], { home: second });
  assert.equal(l2.code, 0, l2.stderr);
  assert.equal((await inspect(pushed.ref, second)).Id, pushed.configDigest);
});

test("skopeo reads the archive burrow saves, as a docker archive and as an OCI archive", async () => {
  const archive = path.join(work, "for-skopeo.tar");
  const s = await burrow(["save", "-o", archive, pushed.ref]);
  assert.equal(s.code, 0, s.stderr);
  const d = JSON.parse((await runProgram("skopeo", ["inspect", `docker-archive:${archive}`])).stdout) as {
    Layers: string[];
    RepoTags: string[];
  };
  assert.deepEqual(
    d.Layers,
    layers.map((l) => l.diffId),
  );
  const cfg = JSON.parse(
    (await runProgram("skopeo", ["inspect", "--config", `docker-archive:${archive}`])).stdout,
  ) as { config: { Cmd: string[] } };
  assert.deepEqual(cfg.config.Cmd, ["/bin/sh"]);
  const raw = (await runProgram("skopeo", ["inspect", "--raw", `docker-archive:${archive}`])).stdout;
  assert.equal(
    (JSON.parse(raw) as { config: { digest: string } }).config.digest,
    pushed.configDigest,
    "skopeo finds the same config",
  );
  const o = JSON.parse((await runProgram("skopeo", ["inspect", `oci-archive:${archive}`])).stdout) as {
    Digest: string;
    Layers: string[];
  };
  assert.equal(o.Digest, pushed.manifestDigest);
  assert.deepEqual(
    o.Layers,
    layers.map((l) => l.digest),
  );
});

test("an archive skopeo copies to docker-archive: loads", async () => {
  const archive = path.join(work, "skopeo-docker.tar");
  await runProgram("skopeo", [
    "copy",
    ...skopeoFlags("plain", "src"),
    `docker://${pushedDocker.ref}`,
    `docker-archive:${archive}:${repo}/copied:2`,
  ]);
  await chownToTestUser(archive);
  const h = await freshHome();
  const l = await burrow(["load", "-i", archive], { home: h });
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, `Loaded image: ${repo}/copied:2\n`);
  assert.equal((await inspect(`${repo}/copied:2`, h)).Id, pushed.configDigest);
  await checkRootfs(`${repo}/copied:2`, h);
  const v = await burrow(["verify", `${repo}/copied:2`], { home: h });
  assert.equal(v.code, 0, v.stdout + v.stderr);

  // Into the store that pulled the image: a new name for it, which keeps the registry's manifest and blobs.
  const blobsBefore = fs.readdirSync(path.join(home.burrowDir, "blobs/sha256")).sort();
  const again = await burrow(["load", "-i", archive]);
  assert.equal(again.code, 0, again.stderr);
  const named = await inspect(`${repo}/copied:2`, home);
  assert.equal(named.Id, pushed.configDigest);
  assert.equal(named.ManifestDigest, pushed.manifestDigest);
  assert.deepEqual(fs.readdirSync(path.join(home.burrowDir, "blobs/sha256")).sort(), blobsBefore);
  const v2 = await burrow(["verify", `${repo}/copied:2`]);
  assert.equal(v2.code, 0, v2.stdout + v2.stderr);
});

test("an OCI layout skopeo copies to oci: loads as a directory and as a tar", async () => {
  const dir = path.join(work, "skopeo-oci");
  const name = `localhost/${repo}:3`;
  await runProgram("skopeo", [
    "copy",
    ...skopeoFlags("plain", "src"),
    `docker://${pushed.ref}`,
    `oci:${dir}:${name}`,
  ]);
  // Tagged by a bare tag only, as `oci:DIR:TAG` usually is.
  await runProgram("skopeo", [
    "copy",
    ...skopeoFlags("plain", "src"),
    `docker://${pushed.ref}`,
    `oci:${dir}:v4`,
  ]);
  await chownToTestUser(dir);
  const h = await freshHome();
  const l = await burrow(["load", "-i", dir], { home: h });
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, new RegExp(`^Loaded image: ${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  const got = await inspect(name, h);
  await checkRootfs(name, h);
  assert.ok(fs.existsSync(dir), "the layout is left as it was");

  const tarball = path.join(work, "skopeo-oci.tar");
  await runProgram("tar", ["-C", dir, "-cf", tarball, "."]);
  await chownToTestUser(tarball);
  const h2 = await freshHome();
  const l2 = await burrow(["load", "-i", tarball], { home: h2 });
  assert.equal(l2.code, 0, l2.stderr);
  assert.equal((await inspect(name, h2)).Id, got.Id);
  assert.equal((await inspect(name, h2)).ManifestDigest, got.ManifestDigest);
});

test("load -i - reads the archive from stdin, and save without -o writes it to stdout", async () => {
  const child = await spawnBurrow(["save", pushed.ref], {
    home,
    env: plainRegistryEnv(),
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => chunks.push(b));
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0);
  const archive = Buffer.concat(chunks);
  const h = await freshHome();
  const l = await burrow(["load", "-i", "-"], { home: h, input: archive });
  assert.equal(l.code, 0, l.stderr);
  assert.equal(l.stdout, `Loaded image: ${pushed.ref}\n`);
  assert.equal((await inspect(pushed.ref, h)).Id, pushed.configDigest);
});

test("save names a missing image and writes nothing", async () => {
  const out = path.join(work, "missing.tar");
  const r = await burrow(["save", "-o", out, "no-such-image:1"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /no-such-image/);
  assert.ok(!fs.existsSync(out));
});

/** A docker-save archive made by hand: config, layer tars and manifest.json, with room for mischief. */
function dockerArchive(opts: {
  layerTars: Buffer[];
  diffIds?: string[];
  layerPaths?: string[];
  extra?: TarEntry[];
  tags?: string[];
}): Buffer {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: opts.diffIds ?? opts.layerTars.map((t) => sha256(t)) },
    }),
  );
  const configName = `${sha256(config).slice(7)}.json`;
  const layerPaths = opts.layerPaths ?? opts.layerTars.map((_, i) => `l${i}/layer.tar`);
  const entries: TarEntry[] = [{ path: configName, type: "file", content: config }];
  opts.layerTars.forEach((t, i) => {
    if (!layerPaths[i]!.includes("..") && !layerPaths[i]!.startsWith("/")) {
      entries.push({ path: layerPaths[i]!, type: "file", content: t });
    }
  });
  entries.push(...(opts.extra ?? []));
  entries.push({
    path: "manifest.json",
    type: "file",
    content: JSON.stringify([
      { Config: configName, RepoTags: opts.tags ?? ["bad/img:1"], Layers: layerPaths },
    ]),
  });
  return writeTar(entries);
}

test("bad archives: one clear line, exit 1, the store unchanged, nothing written outside", async () => {
  const h = await freshHome();
  // The store holds an image already, so "unchanged" means something.
  const good = path.join(work, "good.tar");
  assert.equal((await burrow(["save", "-o", good, pushed.ref])).code, 0);
  assert.equal((await burrow(["load", "-i", good], { home: h })).code, 0);
  const sentinel = path.join(h.dir, "outside");
  fs.mkdirSync(sentinel);
  fs.writeFileSync(path.join(sentinel, "victim"), "precious");
  await chownToTestUser(sentinel);
  const sentinelBefore = describeTree(sentinel);
  const imagesBefore = (await burrow(["images", "--format", "json"], { home: h })).stdout;
  const stateBefore = storeState(h);

  const okLayer = writeTar([{ path: "ok", type: "file", content: "ok" }]);
  const goodBytes = fs.readFileSync(good);
  const ociDir = path.join(work, "bad-oci");
  await runProgram("skopeo", [
    "copy",
    ...skopeoFlags("plain", "src"),
    `docker://${pushed.ref}`,
    `oci:${ociDir}:1`,
  ]);
  // Corrupt the second layer blob of the layout (same size, one byte changed).
  const blob = path.join(ociDir, "blobs/sha256", layers[1]!.digest.slice(7));
  const bytes = fs.readFileSync(blob);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  fs.writeFileSync(blob, bytes);
  await chownToTestUser(ociDir);

  const cases: [string, Buffer | string, RegExp][] = [
    ["truncated", goodBytes.subarray(0, Math.floor(goodBytes.length / 2) + 100), /truncated|incomplete/],
    ["not a tar", Buffer.from("this is not an archive\n".repeat(100)), /not a valid tar archive/],
    [
      "layer digest mismatch",
      dockerArchive({ layerTars: [okLayer], diffIds: [sha256("something else")] }),
      /does not match its diff_id/,
    ],
    ["OCI blob digest mismatch", ociDir, /does not match its digest|diff_id/],
    [
      "member ../x",
      dockerArchive({
        layerTars: [okLayer],
        extra: [{ path: "../outside/x", type: "file", content: "evil" }],
      }),
      /leads outside the archive/,
    ],
    [
      "absolute member",
      dockerArchive({
        layerTars: [okLayer],
        extra: [{ path: `${sentinel}/abs`, type: "file", content: "evil" }],
      }),
      /absolute path/,
    ],
    [
      "manifest.json pointing outside",
      dockerArchive({ layerTars: [okLayer], layerPaths: ["../../../../../../../../etc/passwd"] }),
      /leads outside the archive/,
    ],
    [
      "manifest.json naming an absolute path",
      dockerArchive({ layerTars: [okLayer], layerPaths: ["/etc/passwd"] }),
      /absolute path/,
    ],
    [
      "symlink member leaving the archive",
      dockerArchive({
        layerTars: [okLayer],
        layerPaths: ["l0/layer.tar"],
        extra: [{ path: "l0/layer.tar", type: "symlink", linkname: "../../../../../../etc/passwd" }],
      }),
      /leads outside the archive/,
    ],
    [
      "layer member ../escape",
      dockerArchive({
        layerTars: [
          writeTar([
            { path: "../../../../../../../../" + sentinel.slice(1) + "/escaped", type: "file", content: "x" },
          ]),
        ],
      }),
      /refused|outside/,
    ],
    [
      "layer hardlink to a host file",
      dockerArchive({
        layerTars: [writeTar([{ path: "pw", type: "hardlink", linkname: "../../../../../etc/passwd" }])],
      }),
      /refused|outside|does not exist/,
    ],
    ["invalid RepoTag", dockerArchive({ layerTars: [okLayer], tags: ["UPPER/Case:1"] }), /RepoTag/],
    [
      "no manifest",
      writeTar([{ path: "hello", type: "file", content: "x" }]),
      /neither a docker-save archive/,
    ],
  ];
  for (const [what, content, message] of cases) {
    let file: string;
    if (typeof content === "string") {
      file = content;
    } else {
      file = path.join(work, `bad-${what.replace(/\W+/g, "-")}.tar`);
      fs.writeFileSync(file, content);
      await chownToTestUser(file);
    }
    const r = await burrow(["load", "-i", file], { home: h });
    assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line: ${r.stderr}`);
    assert.match(r.stderr, /^burrow: /, what);
    assert.match(r.stderr, message, what);
    assert.equal(r.stdout, "", what);
    assert.deepEqual(storeState(h), stateBefore, `${what}: the store is unchanged`);
    assert.equal((await burrow(["images", "--format", "json"], { home: h })).stdout, imagesBefore, what);
    assert.deepEqual(describeTree(sentinel), sentinelBefore, `${what}: nothing written outside`);
  }
  // From stdin too.
  const r = await burrow(["load"], { home: h, input: goodBytes.subarray(0, 3000) });
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(storeState(h), stateBefore);
});

test("a layer writing through a symlink to outside stays inside the image", async () => {
  const h = await freshHome();
  const sentinel = path.join(h.dir, "outside");
  fs.mkdirSync(sentinel);
  await chownToTestUser(sentinel);
  const layer = writeTar([
    { path: "evil", type: "symlink", linkname: sentinel },
    { path: "evil/planted", type: "file", content: "x" },
  ]);
  const file = path.join(work, "symlink-escape.tar");
  fs.writeFileSync(file, dockerArchive({ layerTars: [layer], tags: ["symlinked:1"] }));
  await chownToTestUser(file);
  const r = await burrow(["load", "-i", file], { home: h });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(sentinel), [], "nothing planted outside the store");
  const root = (await burrow(["inspect", "-p", "symlinked:1"], { home: h })).stdout.trim();
  assert.equal(fs.readFileSync(path.join(root, sentinel.slice(1), "planted"), "utf8"), "x");
});
