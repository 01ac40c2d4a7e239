// export, import and mkrepo as a udocker user runs them: the built CLI, the unprivileged test user, the
// Alpine fixture pulled from the harness's registry.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import zlib from "node:zlib";
import { makeTestHome, chownToTestUser, spawnBurrow } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { writeTar } from "../harness/tar-writer.js";
import { burrowIn, burrowFails, ok, pullAlpine, pushAlpine } from "../harness/suite.js";

let home: TestHome;
let alpine = "";
/** The export of container `c`, made by the first test and used by the others. */
let cTar = "";

const burrow = burrowIn(() => home);

/** The member names of a tar file, sorted. */
function tarNames(file: string): string[] {
  return execFileSync("tar", ["-tf", file], { encoding: "utf8", maxBuffer: 64 << 20 })
    .split("\n")
    .filter(Boolean)
    .sort();
}

/** `tar -tv` lines (type, mode, owner, size, time, name, link) of a tar file, sorted. */
function tarLong(file: string): string[] {
  return execFileSync("tar", ["--numeric-owner", "-tvf", file], { encoding: "utf8", maxBuffer: 64 << 20 })
    .split("\n")
    .filter(Boolean)
    .sort();
}

/** The image ids and names the store lists. */
async function storeImages(repo?: string): Promise<string[]> {
  const out = ok(await burrow([...(repo ? ["--repo", repo] : []), "images", "--format", "json"]));
  return (JSON.parse(out) as { id: string; names: string[] }[])
    .map((i) => `${i.id} ${i.names.join(",")}`)
    .sort();
}

/** What a store holds besides its finished images: temporary folders and files left behind. */
function leftovers(): string[] {
  const store = home.burrowDir;
  const list = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d) : []);
  return [
    ...list(path.join(store, "images")).filter((n) => n.startsWith(".")),
    ...list(path.join(store, "tmp")).filter((n) => n.startsWith("import-")),
    ...list(path.join(store, "containers")).filter((n) => n.startsWith(".")),
  ];
}

/** The containers in the store (folder names). */
function containerIds(): string[] {
  const d = path.join(home.burrowDir, "containers");
  return fs.existsSync(d)
    ? fs
        .readdirSync(d)
        .filter((n) => /^[a-f0-9]{64}$/.test(n))
        .sort()
    : [];
}

/** A file in the test home, owned by the test user. */
async function homeFile(name: string, data: Buffer): Promise<string> {
  const p = path.join(home.dir, name);
  fs.writeFileSync(p, data);
  await chownToTestUser(p);
  return p;
}

before(async () => {
  home = await makeTestHome();
  alpine = await pullAlpine(burrow, "impexp-alpine", { tag: "3.20", format: "docker" });
});

after(async () => {
  await home?.cleanup();
});

test("export of a container holds what it wrote and not what it deleted, owned by root", async () => {
  ok(
    await burrow([
      "run",
      "--name",
      "c",
      alpine,
      "sh",
      "-c",
      "echo hello > /thefile && rm /etc/motd && rm -rf /etc/apk && mkdir /etc/apk && echo n > /etc/apk/new && ln /thefile /thelink",
    ]),
  );
  cTar = path.join(home.dir, "c.tar");
  ok(await burrow(["export", "-o", cTar, "c"]));
  const names = tarNames(cTar);
  assert.ok(names.includes("thefile"), "the written file is there");
  assert.ok(names.includes("etc/apk/new"));
  assert.ok(!names.includes("etc/motd"), "the deleted file is not");
  assert.ok(!names.includes("etc/apk/world"), "a folder removed and made again holds only its new files");
  assert.ok(names.includes("bin/busybox") && names.includes("etc/passwd"), "the image's files are there");
  assert.ok(
    !names.some((n) => n.startsWith("/") || n.startsWith("./") || n.includes("..")),
    "relative names",
  );
  const long = tarLong(cTar);
  assert.ok(
    long.every((l) => / 0\/0 /.test(l)),
    `every member is owned by 0/0: ${long.find((l) => !/ 0\/0 /.test(l))}`,
  );
  assert.ok(
    long.some((l) => l.startsWith("h") && /thelink link to thefile|thefile link to thelink/.test(l)),
    "a hardlink stays a hardlink",
  );
  assert.ok(
    long.some((l) => /^l.* bin\/sh -> \/bin\/busybox$/.test(l)),
    "symlinks stay symlinks",
  );
  assert.equal(
    execFileSync("tar", ["-xOf", cTar, "thefile"], { encoding: "utf8" }),
    "hello\n",
    "the file's content is the container's",
  );
  // The same to stdout, in udocker's form and docker's.
  const viaStdout = await burrow(["export", "-", "c"]);
  assert.equal(viaStdout.code, 0, viaStdout.stderr);
  assert.ok(viaStdout.stdout.length > 0);
  const second = path.join(home.dir, "c2.tar");
  ok(await burrow(["export", "-o", second, "c"]));
  assert.deepEqual(fs.readFileSync(second), fs.readFileSync(cTar), "an export is reproducible");
  fs.rmSync(second);
});

test("import of an export gives an image with the same files, entry for entry, that runs", async () => {
  assert.ok(cTar, "needs the export of the first test");
  const id = ok(await burrow(["import", cTar, "myimg:1"])).trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  const images = ok(await burrow(["images"]));
  assert.match(images, new RegExp(`^myimg\\s+1\\s+${id.slice(7, 19)}`, "m"));
  assert.equal(ok(await burrow(["run", "myimg:1", "cat", "/thefile"])), "hello\n");
  assert.equal(
    (await burrow(["run", "myimg:1", "cat", "/etc/motd"])).code,
    1,
    "the deleted file stays deleted",
  );
  ok(await burrow(["verify", "myimg:1"]));
  const again = path.join(home.dir, "myimg.tar");
  ok(await burrow(["export", "-o", again, "myimg:1"]));
  assert.deepEqual(tarLong(again), tarLong(cTar), "the image's rootfs is the exported one");
  fs.rmSync(again);
  const inspect = JSON.parse(ok(await burrow(["inspect", "myimg:1"]))) as {
    RootFS?: { diff_ids: string[] };
    History?: { created_by: string }[];
  }[];
  assert.equal(inspect[0]?.RootFS?.diff_ids.length, 1);
  assert.equal(inspect[0]?.History?.[0]?.created_by, "burrow import");
});

test("import - reads a gzip tarball from stdin", async () => {
  assert.ok(cTar);
  const gz = zlib.gzipSync(fs.readFileSync(cTar));
  ok(await burrow(["import", "-", "x:1"], { input: gz }));
  assert.equal(ok(await burrow(["run", "x:1", "cat", "/etc/apk/new"])), "n\n");
});

test("import --tocontainer --name makes a container that keeps its changes", async () => {
  assert.ok(cTar);
  const before = containerIds();
  const id = ok(await burrow(["import", "--tocontainer", "--name", "c2", cTar])).trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.deepEqual(containerIds(), [...before, id].sort());
  assert.equal(ok(await burrow(["run", "c2", "cat", "/thefile"])), "hello\n");
  ok(await burrow(["run", "c2", "sh", "-c", "echo more >> /thefile"]));
  assert.equal(ok(await burrow(["run", "c2", "cat", "/thefile"])), "hello\nmore\n");
  burrowFails(await burrow(["import", "--tocontainer", "--name", "c2", cTar]), /in use/);
  assert.deepEqual(leftovers(), []);
});

test("import --mv removes the tarball once imported; without it the tarball stays", async () => {
  assert.ok(cTar);
  const moved = await homeFile("moved.tar", fs.readFileSync(cTar));
  ok(await burrow(["import", "--mv", moved, "mv:1"]));
  assert.equal(fs.existsSync(moved), false, "the source is gone");
  assert.equal(ok(await burrow(["run", "mv:1", "cat", "/thefile"])), "hello\n");
  assert.ok(fs.existsSync(cTar), "a plain import keeps its source");
  burrowFails(await burrow(["import", "--mv", "-", "mv:2"], { input: fs.readFileSync(cTar) }), /--mv/);
});

test("mkrepo makes an empty private store that --repo uses, leaving the default store alone", async () => {
  assert.ok(cTar);
  const repo = path.join(home.dir, "repo2");
  ok(await burrow(["mkrepo", repo]));
  assert.equal(fs.statSync(repo).mode & 0o777, 0o700);
  for (const d of ["blobs", "images", "refs"]) assert.ok(fs.statSync(path.join(repo, d)).isDirectory());
  assert.deepEqual(await storeImages(repo), [], "the new store is empty");
  const defaultBefore = await storeImages();
  ok(await burrow(["--repo", repo, "import", cTar, "r:1"]));
  assert.match(ok(await burrow(["--repo", repo, "images"])), /^r\s+1\s/m);
  assert.equal(ok(await burrow(["--repo", repo, "run", "r:1", "cat", "/thefile"])), "hello\n");
  assert.deepEqual(await storeImages(), defaultBefore, "the default store is untouched");
  ok(await burrow(["mkrepo", repo])); // a store already there is fine
  const junk = path.join(home.dir, "junk");
  fs.mkdirSync(junk);
  fs.writeFileSync(path.join(junk, "mine.txt"), "x");
  await chownToTestUser(junk);
  burrowFails(await burrow(["mkrepo", junk]), /not empty/);
  assert.deepEqual(fs.readdirSync(junk), ["mine.txt"], "nothing is added to a folder refused");
});

test("bad tarballs are refused with one line and leave no image, container or file behind", async () => {
  assert.ok(cTar);
  const outside = path.join(home.dir, "outside");
  fs.mkdirSync(outside);
  await chownToTestUser(outside);
  const imagesBefore = await storeImages();
  const containersBefore = containerIds();
  const gz = zlib.gzipSync(fs.readFileSync(cTar));
  const truncated = await homeFile("truncated.tar.gz", gz.subarray(0, Math.floor(gz.length / 2)));
  const cut = await homeFile("cut.tar", fs.readFileSync(cTar).subarray(0, 200_000));
  const dotdot = writeTar([
    { path: "ok", type: "file", content: "ok\n" },
    { path: `../../../../../..${outside}/escaped`, type: "file", content: "x\n" },
  ]);
  const hardlink = writeTar([
    { path: "ok", type: "file", content: "ok\n" },
    { path: "h", type: "hardlink", linkname: path.join(outside, "..", "c.tar") },
  ]);
  burrowFails(await burrow(["import", truncated, "bad:1"]), /cannot import .*truncated\.tar\.gz/);
  burrowFails(await burrow(["import", cut, "bad:2"]), /truncated/);
  burrowFails(await burrow(["import", "-", "bad:3"], { input: dotdot }), /outside the root/);
  burrowFails(await burrow(["import", "--tocontainer", "--name", "bad4", "-"], { input: dotdot }));
  burrowFails(await burrow(["import", "-", "bad:5"], { input: hardlink }), /hardlink/);
  burrowFails(await burrow(["import", "-", "bad:6"], { input: Buffer.alloc(0) }), /empty/);
  burrowFails(await burrow(["import", path.join(home.dir, "no-such.tar"), "bad:7"]), /no such file/);
  assert.deepEqual(await storeImages(), imagesBefore, "no image appeared");
  assert.deepEqual(containerIds(), containersBefore, "no container appeared");
  assert.deepEqual(leftovers(), [], "no temporary files are left in the store");
  assert.deepEqual(fs.readdirSync(outside), [], "nothing was written outside the store");
  assert.ok(fs.existsSync(truncated) && fs.existsSync(cut), "a refused tarball is kept");
});

test("a write through an absolute symlink in a tarball lands inside the image, never outside", async () => {
  const outside = path.join(home.dir, "outside-symlink");
  fs.mkdirSync(outside);
  await chownToTestUser(outside);
  const tar = writeTar([
    { path: "evil", type: "symlink", linkname: outside },
    { path: "evil/pwned", type: "file", content: "inside\n" },
    { path: "bin/", type: "dir" },
  ]);
  // As pull does (and docker's chrooted extraction), the link is resolved inside the new rootfs.
  ok(await burrow(["import", "-", "sym:1"], { input: tar }));
  assert.deepEqual(fs.readdirSync(outside), [], "nothing was written outside the store");
  const exported = path.join(home.dir, "sym.tar");
  ok(await burrow(["export", "-o", exported, "sym:1"]));
  const names = tarNames(exported);
  assert.ok(names.includes(`${outside.slice(1)}/pwned`), `the file is inside the image: ${names.join(" ")}`);
  fs.rmSync(exported);
});

test("export refuses a missing container and an unwritable destination without leaving a file", async () => {
  burrowFails(
    await burrow(["export", "-o", path.join(home.dir, "x.tar"), "no-such-container"]),
    /no container/,
  );
  assert.equal(fs.existsSync(path.join(home.dir, "x.tar")), false);
  burrowFails(await burrow(["export", "-o", path.join(home.dir, "no-dir", "x.tar"), "c"]), /cannot write/);
  const before = fs.readdirSync(home.dir).sort();
  assert.ok(!before.some((n) => n.includes(".part-")), "no temporary export file is left");
});

/** What an import, load or pull stages in `store` (image folders in images/, scratch in tmp/), by name. */
function staged(store: string): string[] {
  const list = (d: string): string[] => (fs.existsSync(d) ? fs.readdirSync(d) : []);
  return [
    ...list(path.join(store, "images")).filter((n) => n.startsWith(".")),
    ...list(path.join(store, "tmp")).filter((n) => /^\.?(?:import|load)-/.test(n)),
  ];
}

/** Polls `ready` every 5 ms for at most 60 s. */
async function waitFor(ready: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (ready()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

/**
 * Starts `import - NAME` in `home` and feeds it part of a tarball, keeping its stdin open: resolves once
 * the import is staging its input in tmp/, mid-way through, with the child and the status it ends with.
 */
async function importMidStaging(
  home: TestHome,
  name: string,
): Promise<{ child: ChildProcessWithoutNullStreams; closed: Promise<number | null> }> {
  const child = await spawnBurrow(["import", "-", name], { home });
  const closed = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
  child.stdin.on("error", () => {
    // What is still buffered for it goes nowhere once it has ended.
  });
  child.stdin.write(
    writeTar([{ path: "a", type: "file", content: Buffer.alloc(1 << 20, 1) }]).subarray(0, 600_000),
  );
  assert.ok(
    await waitFor(() => staged(home.burrowDir).some((n) => n.startsWith("import-blob-"))),
    "the import staged its input",
  );
  return { child, closed };
}

test("an import killed with SIGKILL leaves nothing that the next import or pull does not sweep", async () => {
  const fresh = await makeTestHome();
  try {
    const run = burrowIn(() => fresh);
    const store = fresh.burrowDir;
    // Killed while it stages the tarball from stdin: the staged copy is left in tmp/.
    const reading = await importMidStaging(fresh, "killed:1");
    reading.child.kill("SIGKILL");
    await reading.closed;
    assert.equal(staged(store).length, 1, staged(store).join(" "));
    ok(
      await run(["import", "-", "small:1"], { input: writeTar([{ path: "x", type: "file", content: "x" }]) }),
    );
    assert.deepEqual(staged(store), [], "the next import swept it");

    // Killed while it builds the image's folder: the folder and the staged tarball are left.
    const many = writeTar(
      Array.from({ length: 30_000 }, (_, i) => ({ path: `f${i}`, type: "file" as const, content: "x" })),
    );
    const tarball = path.join(fresh.dir, "many.tar");
    fs.writeFileSync(tarball, many);
    await chownToTestUser(tarball);
    const building = await spawnBurrow(["import", tarball, "killed:2"], { home: fresh });
    building.stdin.end();
    assert.ok(
      await waitFor(() => staged(store).some((n) => n.startsWith(".tmp-"))),
      "the import started the image's folder",
    );
    building.kill("SIGKILL");
    await new Promise((r) => building.once("close", r));
    assert.ok(staged(store).length >= 1, "the killed import left its work");
    const { ref } = await pushAlpine("impexp-killed");
    ok(await run(["pull", ref]));
    assert.deepEqual(staged(store), [], "the next pull swept it");
    const images = JSON.parse(ok(await run(["images", "--format", "json"]))) as { names: string[] }[];
    assert.equal(
      images.filter((i) => i.names.some((n) => /\/killed:\d$/.test(n))).length,
      0,
      "no half image",
    );
  } finally {
    await fresh.cleanup();
  }
});

test("an import interrupted with SIGINT exits 130 and leaves none of its staged work", async () => {
  const fresh = await makeTestHome();
  try {
    const store = fresh.burrowDir;
    const { child, closed } = await importMidStaging(fresh, "interrupted:1");
    child.kill("SIGINT");
    assert.equal(await closed, 130);
    assert.deepEqual(staged(store), [], "the interrupted import removed what it staged");
  } finally {
    await fresh.cleanup();
  }
});
