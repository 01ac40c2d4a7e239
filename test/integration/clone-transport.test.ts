// export --clone and import --clone (udocker's container transport) as a user runs them: the built CLI,
// the unprivileged test user, the Alpine fixture pulled from the harness's registry. The archive comes
// from elsewhere, so the hostile cases matter as much as the round trip: every refusal is one line, exit
// status 1, and leaves the store as it was.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { makeTestHome, chownToTestUser, spawnBurrow } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { writeTar, type TarEntry } from "../harness/tar-writer.js";
import { burrowIn, burrowFails, ok, plainRegistryEnv, pullAlpine, show } from "../harness/suite.js";

let home: TestHome;
let alpine = "";
/** The clone archive of container `src` (changed files, P1 engine), made once. */
let srcClone = "";

const burrow = burrowIn(() => home);

/** A file in the test home, owned by the test user. */
async function homeFile(name: string, data: Buffer): Promise<string> {
  const p = path.join(home.dir, name);
  fs.writeFileSync(p, data);
  await chownToTestUser(p);
  return p;
}

/** A folder in the test home (a second store), owned by the test user. */
async function homeDir(name: string): Promise<string> {
  const p = path.join(home.dir, name);
  fs.mkdirSync(p, { recursive: true });
  await chownToTestUser(p);
  return p;
}

/** What a store holds: its containers, its images, and anything half-made (temporary names). */
function storeState(store = home.burrowDir): { containers: string[]; images: string[]; temp: string[] } {
  const list = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d).sort() : []);
  return {
    containers: list(path.join(store, "containers")).filter((n) => /^[a-f0-9]{64}$/.test(n)),
    images: list(path.join(store, "images")).filter((n) => !n.startsWith(".")),
    temp: [
      ...list(path.join(store, "containers")).filter((n) => n.startsWith(".")),
      ...list(path.join(store, "images")).filter((n) => n.startsWith(".")),
      ...list(path.join(store, "tmp")).filter((n) => /^(?:clone-|import-)/.test(n)),
    ],
  };
}

/** `burrow ps --format json` entries by name. */
async function psEntry(
  name: string,
  repo?: string,
): Promise<{ id: string; engine: string | null; image: string }> {
  const out = ok(await burrow([...(repo ? ["--repo", repo] : []), "ps", "--format", "json"]));
  const list = JSON.parse(out) as { id: string; names: string[]; engine: string | null; image: string }[];
  const found = list.find((c) => c.names.includes(name));
  assert.ok(found, `no container ${name} in ps: ${out}`);
  return found;
}

/** A clone archive as burrow writes it: the metadata, then rootfs.tar; `extra` members follow. */
function cloneArchive(meta: unknown, rootfs: Buffer, extra: TarEntry[] = []): Buffer {
  return writeTar([
    {
      path: "burrow-clone.json",
      type: "file",
      content: typeof meta === "string" ? meta : JSON.stringify(meta),
    },
    { path: "rootfs.tar", type: "file", content: rootfs },
    ...extra,
  ]);
}

/** burrow-clone.json's fields as the tests write them (values of any JSON type, to break them). */
interface MetaShape {
  format: unknown;
  version: unknown;
  container: { id: string; names: string[]; created: string; engine?: unknown; imageName?: unknown };
  image: {
    id: string;
    config: { architecture: string; os: string; config: { Env: unknown; Cmd: string[] } };
  };
}

/** Valid metadata (the format's fields, restated), with `change` applied. */
function meta(change: (m: MetaShape) => void = () => undefined): MetaShape {
  const m: MetaShape = {
    format: "burrow-container-clone",
    version: 1,
    container: { id: "ab".repeat(32), names: ["far"], created: "2026-01-01T00:00:00.000Z" },
    image: {
      id: "cd".repeat(32),
      config: {
        architecture: "amd64",
        os: "linux",
        config: { Env: ["PATH=/bin:/usr/bin", "FROM_CLONE=1"], Cmd: ["/bin/sh"] },
      },
    },
  };
  change(m);
  return m;
}

/** A small rootfs tarball: /bin/sh is not needed to be imported, only to be run. */
function smallRootfs(entries: TarEntry[] = []): Buffer {
  return writeTar([
    { path: "etc/", type: "dir" },
    { path: "etc/hello", type: "file", content: "hello\n" },
    ...entries,
  ]);
}

before(async () => {
  home = await makeTestHome();
  alpine = await pullAlpine(burrow, "clone-alpine", { env: ["IMAGE_VAR=from-image"] });
  ok(await burrow(["create", "--name", "src", alpine]));
  ok(await burrow(["run", "src", "sh", "-c", "echo kept > /root/note && rm /etc/motd && mkdir -p /work"]));
  ok(await burrow(["setup", "--execmode=P1", "src"]));
  srcClone = path.join(home.dir, "src-clone.tar");
  const r = await burrow(["export", "--clone", "-o", srcClone, "src"]);
  ok(r);
  assert.match(r.stderr, /src-clone\.tar/);
});

after(async () => {
  await home?.cleanup();
});

test("export --clone writes the container's metadata, then its whole root file system", () => {
  const names = execFileSync("tar", ["-tf", srcClone], { encoding: "utf8" }).split("\n").filter(Boolean);
  assert.deepEqual(names, ["burrow-clone.json", "rootfs.tar"]);
  const metaText = execFileSync("tar", ["-xOf", srcClone, "burrow-clone.json"], { encoding: "utf8" });
  const m = JSON.parse(metaText) as {
    container: { names: string[]; engine: string };
    image: { config: { config: { Env: string[] } } };
  };
  assert.deepEqual(m.container.names, ["src"]);
  assert.equal(m.container.engine, "proot");
  assert.ok(m.image.config.config.Env.includes("IMAGE_VAR=from-image"), metaText);
  const rootfs = execFileSync("sh", ["-c", `tar -xOf '${srcClone}' rootfs.tar | tar -tf -`], {
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  assert.match(rootfs, /^root\/note$/m, "the container's own change is in it");
  assert.match(rootfs, /^bin\/busybox$/m, "the image's files are in it");
  assert.doesNotMatch(rootfs, /^etc\/motd$/m, "a file the container removed is not");
});

test("import --clone brings the container back: its files, run settings, engine and image name; prints its id", async () => {
  const r = await burrow(["import", "--clone", "--name=back", srcClone]);
  const id = ok(r).trim();
  assert.match(id, /^[a-f0-9]{64}$/, show(r));
  assert.match(r.stderr, /imported container src \(engine proot\) as back/);
  const entry = await psEntry("back");
  assert.equal(entry.id, id);
  assert.equal(entry.engine, "proot");
  assert.match(ok(await burrow(["setup", "back"])), /proot/);
  assert.equal(ok(await burrow(["run", "back", "cat", "/root/note"])), "kept\n");
  assert.equal(ok(await burrow(["run", "back", "sh", "-c", "echo $IMAGE_VAR"])), "from-image\n");
  const gone = await burrow(["run", "back", "test", "-e", "/etc/motd"]);
  assert.equal(gone.code, 1, show(gone));
  // A container, not an image: no new image name is listed.
  const images = JSON.parse(ok(await burrow(["images", "--format", "json"]))) as { names: string[] }[];
  assert.ok(
    images.every((i) => !i.names.some((n) => n.includes("back"))),
    JSON.stringify(images),
  );
});

test("import --clone into another store (another machine) needs nothing from the first", async () => {
  const other = await homeDir("other-store");
  const id = ok(await burrow(["--repo", other, "import", "--clone", "--name", "moved", srcClone])).trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.equal(ok(await burrow(["--repo", other, "run", "moved", "cat", "/root/note"])), "kept\n");
  assert.equal(
    ok(await burrow(["--repo", other, "run", "moved", "sh", "-c", "echo $IMAGE_VAR"])),
    "from-image\n",
  );
  assert.equal((await psEntry("moved", other)).engine, "proot");
  assert.deepEqual(storeState(other).temp, []);
});

test("import --clone - reads the archive from stdin, compressed or not", async () => {
  const plain = fs.readFileSync(srcClone);
  const a = ok(await burrow(["import", "--clone", "--name", "fromstdin", "-"], { input: plain })).trim();
  assert.match(a, /^[a-f0-9]{64}$/);
  const gz = ok(
    await burrow(["import", "--clone", "--name", "fromgzip", "-"], { input: zlib.gzipSync(plain) }),
  ).trim();
  assert.match(gz, /^[a-f0-9]{64}$/);
  assert.equal(ok(await burrow(["run", "fromgzip", "cat", "/root/note"])), "kept\n");
});

test("export --clone - writes the archive to stdout", async () => {
  const child = await spawnBurrow(["export", "--clone", "-", "src"], { home, env: plainRegistryEnv() });
  child.stdin.end();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.equal(code, 0, Buffer.concat(err).toString());
  const file = await homeFile("stdout-clone.tar", Buffer.concat(out));
  const id = ok(await burrow(["import", "--clone", "--name", "viastdout", file])).trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.equal(ok(await burrow(["run", "viastdout", "cat", "/root/note"])), "kept\n");
});

test("import --clone of a plain rootfs tarball makes a container as --tocontainer does, and says so", async () => {
  const file = await homeFile("plain-rootfs.tar", smallRootfs());
  const res = await burrow(["import", "--clone", "--name=plainclone", file]);
  assert.match(ok(res).trim(), /^[a-f0-9]{64}$/);
  assert.match(res.stderr, /holds no burrow-clone\.json.*--tocontainer/);
  await psEntry("plainclone");
});

test("export --clone refuses an image and an unknown container in one line", async () => {
  burrowFails(
    await burrow(["export", "--clone", "-o", path.join(home.dir, "x.tar"), alpine]),
    /writes a container/,
  );
  burrowFails(
    await burrow(["export", "--clone", "-o", path.join(home.dir, "x.tar"), "nosuch"]),
    /no container "nosuch"/,
  );
  assert.equal(fs.existsSync(path.join(home.dir, "x.tar")), false);
});

test("import --clone refuses a taken name before reading the archive", async () => {
  const before = storeState();
  burrowFails(await burrow(["import", "--clone", "--name", "src", srcClone]), /name "src" is in use/);
  assert.deepEqual(storeState(), before);
});

/** Hostile or broken archives: each is refused in one line, and the store is left as it was. */
const REFUSED: { what: string; archive: () => Buffer; message: RegExp }[] = [
  {
    what: "a rootfs member that climbs out of the root",
    archive: () => cloneArchive(meta(), smallRootfs([{ path: "../../escaped", type: "file", content: "x" }])),
    message: /escaped|outside|\.\./,
  },
  {
    what: "a hardlink to a host file",
    archive: () =>
      cloneArchive(meta(), smallRootfs([{ path: "shadow", type: "hardlink", linkname: "/etc/shadow" }])),
    message: /shadow/,
  },
  {
    what: "metadata that is not JSON",
    archive: () => cloneArchive("{not json", smallRootfs()),
    message: /burrow-clone\.json is not JSON/,
  },
  {
    what: "metadata of another format",
    archive: () =>
      cloneArchive(
        meta((m) => (m.format = "something-else")),
        smallRootfs(),
      ),
    message: /has format "something-else"/,
  },
  {
    what: "metadata of a newer version",
    archive: () =>
      cloneArchive(
        meta((m) => (m.version = 2)),
        smallRootfs(),
      ),
    message: /version 2 container clone/,
  },
  {
    what: "an Env that is not a list of NAME=value",
    archive: () =>
      cloneArchive(
        meta((m) => (m.image.config.config.Env = "PATH=/bin")),
        smallRootfs(),
      ),
    message: /Env/,
  },
  {
    what: "an image name that is no reference",
    archive: () =>
      cloneArchive(
        meta((m) => (m.container.imageName = "Bad Name!")),
        smallRootfs(),
      ),
    message: /not an image reference/,
  },
  {
    what: "a metadata member that is a symlink",
    archive: () =>
      writeTar([
        { path: "burrow-clone.json", type: "symlink", linkname: "/etc/passwd" },
        { path: "rootfs.tar", type: "file", content: smallRootfs() },
      ]),
    message: /not a regular file/,
  },
  {
    what: "metadata larger than a container's",
    archive: () => cloneArchive(JSON.stringify({ pad: "x".repeat(1100 * 1024) }), smallRootfs()),
    message: /more than a container's metadata holds/,
  },
  {
    what: "no rootfs.tar (cut short)",
    archive: () => writeTar([{ path: "burrow-clone.json", type: "file", content: JSON.stringify(meta()) }]),
    message: /no rootfs\.tar/,
  },
  {
    what: "a member after rootfs.tar",
    archive: () => cloneArchive(meta(), smallRootfs(), [{ path: "../../extra", type: "file", content: "x" }]),
    message: /after rootfs\.tar/,
  },
  {
    what: "a truncated archive",
    archive: () => cloneArchive(meta(), smallRootfs()).subarray(0, 1700),
    message: /truncated|not a valid tar/,
  },
];

for (const c of REFUSED) {
  test(`import --clone refuses ${c.what}, leaving nothing behind`, async () => {
    const file = await homeFile(`hostile-${c.what.replace(/\W+/g, "-")}.tar`, c.archive());
    const before = storeState();
    const r = await burrow(["import", "--clone", "--name", `hostile${REFUSED.indexOf(c)}`, file]);
    burrowFails(r, c.message);
    assert.deepEqual(storeState(), before, show(r));
    assert.equal(fs.existsSync("/etc/burrow-clone-pwned"), false);
    assert.equal(fs.existsSync(path.join(home.dir, "..", "..", "escaped")), false);
  });
}

test("a clone keeps the udocker execmode its engine was set from (setup R3: runc, shown as R3)", async () => {
  ok(await burrow(["create", "--name", "mode-r3", alpine]));
  ok(await burrow(["setup", "--execmode=R3", "mode-r3"]));
  const file = path.join(home.dir, "mode-r3.tar");
  ok(await burrow(["export", "--clone", "-o", file, "mode-r3"]));
  const m = JSON.parse(execFileSync("tar", ["-xOf", file, "burrow-clone.json"], { encoding: "utf8" })) as {
    container: { engine: string; execmode: string };
  };
  assert.deepEqual([m.container.engine, m.container.execmode], ["runc", "R3"]);
  ok(await burrow(["import", "--clone", "--name=mode-r3-back", file]));
  assert.match(ok(await burrow(["setup", "mode-r3-back"])), /runc \(execmode R3\)/);
});

test("import --clone takes a clone set up with an engine this burrow lacks, on automatic selection, and says so", async () => {
  const file = await homeFile(
    "future-engine.tar",
    cloneArchive(
      meta((m) => (m.container.engine = "warpdrive")),
      smallRootfs(),
    ),
  );
  const r = await burrow(["import", "--clone", "--name", "future", file]);
  assert.match(ok(r).trim(), /^[a-f0-9]{64}$/);
  assert.match(r.stderr, /engine "warpdrive", which this burrow does not have/);
  assert.equal((await psEntry("future")).engine, null);
});

test("import --clone resolves a rootfs symlink to a host folder inside the container's root", async () => {
  const file = await homeFile(
    "link-to-host.tar",
    cloneArchive(
      meta(),
      smallRootfs([
        { path: "hostetc", type: "symlink", linkname: "/etc" },
        { path: "hostetc/burrow-clone-pwned", type: "file", content: "inside\n" },
      ]),
    ),
  );
  ok(await burrow(["import", "--clone", "--name", "linked", file]));
  assert.equal(fs.existsSync("/etc/burrow-clone-pwned"), false, "nothing was written on the host");
  const exported = path.join(home.dir, "linked.tar");
  ok(await burrow(["export", "-o", exported, "linked"]));
  assert.equal(
    execFileSync("tar", ["-xOf", exported, "etc/burrow-clone-pwned"], { encoding: "utf8" }),
    "inside\n",
  );
});
