// A udocker user's session end to end (issue 5's "Done when"), as the unprivileged test user against the
// harness's registry, in one store: each step is written as a udocker script would write it (udocker's
// spellings where they differ from docker's) and checks its effect, not only its exit status.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chownToTestUser, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import type { PushedImage } from "../harness/image-builder.js";
import { burrowIn, burrowFails, failsWithUsage, ok, pushAlpine, show } from "../harness/suite.js";

/** Every command of issue 5 (and the ones a udocker session needs around them) that `burrow help` lists. */
const COMMANDS = [
  "pull",
  "images",
  "inspect",
  "verify",
  "create",
  "ps",
  "name",
  "rmname",
  "rename",
  "clone",
  "run",
  "export",
  "import",
  "save",
  "load",
  "rmi",
  "protect",
  "unprotect",
  "rm",
  "setup",
  "tag",
  "mkrepo",
];

let home: TestHome;
let pushed: PushedImage;
/** The pulled image's reference and id (config digest hex). */
let ref = "";
let imageId = "";
/** The container the session works in, its clone, and the one imported from the export. */
let workId = "";
let cloneId = "";
let fromTarId = "";
/** Files the session writes in the home. */
let exportTar = "";
let saveTar = "";
/** The id of the image `import` made, before `rmi` and after `load`. */
let importedId = "";

const burrow = burrowIn(() => home);

interface PsEntry {
  id: string;
  names: string[];
  layer: string;
  protected: boolean;
  engine: string | null;
}

/** `burrow ps --format json`. */
async function ps(repo?: string): Promise<PsEntry[]> {
  return JSON.parse(
    ok(await burrow([...(repo ? ["--repo", repo] : []), "ps", "--format", "json"])),
  ) as PsEntry[];
}

/** The container named `name` in `ps`, or undefined. */
async function psNamed(name: string): Promise<PsEntry | undefined> {
  return (await ps()).find((c) => c.names.includes(name));
}

/** `burrow images --format json` as `id names...` lines (ids without sha256:). */
async function images(repo?: string): Promise<Map<string, string[]>> {
  const out = ok(await burrow([...(repo ? ["--repo", repo] : []), "images", "--format", "json"]));
  const list = JSON.parse(out) as { id: string; names: string[] }[];
  return new Map(list.map((i) => [i.id.replace(/^sha256:/, ""), i.names]));
}

/** The image id a name (as a user writes it) has in the store's image list, or undefined. */
async function imageNamed(name: string, repo?: string): Promise<string | undefined> {
  const full = name.includes("/") ? name : `docker.io/library/${name}`;
  for (const [id, names] of await images(repo)) if (names.includes(full)) return id;
  return undefined;
}

/** The member names of a tar file. */
function tarNames(file: string): string[] {
  return execFileSync("tar", ["-tf", file], { encoding: "utf8", maxBuffer: 64 << 20 })
    .split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/^\.\//, "").replace(/\/$/, ""));
}

/** One member of a tar file, as text. */
function tarMember(file: string, member: string): string {
  const names = execFileSync("tar", ["-tf", file], { encoding: "utf8", maxBuffer: 64 << 20 }).split("\n");
  const name = names.find((n) => n.replace(/^\.\//, "") === member);
  assert.ok(name !== undefined, `${member} is in ${file}`);
  return execFileSync("tar", ["-xOf", file, name], { encoding: "utf8", maxBuffer: 64 << 20 });
}

/** The containers' folders in the store. */
function containerDirs(): string[] {
  const d = path.join(home.burrowDir, "containers");
  return fs.existsSync(d) ? fs.readdirSync(d).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
}

before(async () => {
  home = await makeTestHome();
  pushed = await pushAlpine("udocker-session", { tag: "3.20", labels: { session: "udocker" } });
  ref = pushed.ref;
  imageId = pushed.configDigest.replace(/^sha256:/, "");
  exportTar = path.join(home.dir, "work.tar");
  saveTar = path.join(home.dir, "images.tar");
});

after(async () => {
  await home?.cleanup();
});

describe("a udocker user's session, step by step in one store", () => {
  test("pull, images, inspect, verify", async () => {
    ok(await burrow(["pull", ref]));
    const table = ok(await burrow(["images"]));
    const [repo, tag] = [ref.slice(0, ref.lastIndexOf(":")), ref.slice(ref.lastIndexOf(":") + 1)];
    assert.match(table, /^REPOSITORY\s+TAG\s+IMAGE ID/);
    assert.match(table, new RegExp(`^${repo}\\s+${tag}\\s+${imageId.slice(0, 12)}\\s`, "m"));
    assert.equal(await imageNamed(ref), imageId, "the image id is the config digest the registry holds");

    const [info] = JSON.parse(ok(await burrow(["inspect", ref]))) as {
      Id: string;
      RepoTags: string[];
      Config: { Cmd?: string[]; Labels?: Record<string, string> };
    }[];
    assert.equal(info?.Id, pushed.configDigest);
    assert.ok(info?.RepoTags.includes(ref), JSON.stringify(info?.RepoTags));
    assert.deepEqual(info?.Config.Cmd, ["/bin/sh"]);
    assert.equal(info?.Config.Labels?.session, "udocker");

    assert.equal(ok(await burrow(["verify", ref])), `${ref}: OK\n`);
  });

  test("create --name, ps, name, rmname, rename, inspect -p", async () => {
    workId = ok(await burrow(["create", "--name=mycont", ref])).trim();
    assert.match(workId, /^[a-f0-9]{64}$/);
    assert.deepEqual(containerDirs(), [workId]);
    const table = ok(await burrow(["ps"]));
    assert.match(table, /^CONTAINER ID\s+P\s+NAMES\s+IMAGE/);
    assert.match(
      table,
      new RegExp(`^${workId.slice(0, 12)}\\s+\\.\\s+mycont\\s+\\S*${pushed.ref.split("/").pop()}`, "m"),
    );

    ok(await burrow(["name", workId, "alias"]));
    assert.deepEqual((await psNamed("mycont"))?.names, ["mycont", "alias"]);
    assert.equal(ok(await burrow(["run", "alias", "cat", "/etc/alpine-release"])).trim().length > 0, true);
    ok(await burrow(["rmname", "alias"]));
    assert.deepEqual((await psNamed("mycont"))?.names, ["mycont"]);
    burrowFails(await burrow(["inspect", "alias"]), /alias/);

    ok(await burrow(["rename", "mycont", "work"]));
    const entry = await psNamed("work");
    assert.equal(entry?.id, workId);
    assert.deepEqual(entry?.names, ["work"]);
    assert.equal(await psNamed("mycont"), undefined);

    const p = ok(await burrow(["inspect", "-p", "work"])).trim();
    assert.ok(p.startsWith(path.join(home.burrowDir, "containers", workId)), p);
    assert.ok(fs.statSync(p).isDirectory(), p);
  });

  test("run twice: the second run sees what the first wrote", async () => {
    ok(await burrow(["run", "work", "sh", "-c", "echo one >> /root/counter"]));
    assert.equal(
      ok(await burrow(["run", "work", "sh", "-c", "echo two >> /root/counter; cat /root/counter"])),
      "one\ntwo\n",
    );
    // The file is in the container's own folder (inspect -p), and not in the image.
    const p = ok(await burrow(["inspect", "-p", "work"])).trim();
    assert.equal(fs.readFileSync(path.join(p, "root/counter"), "utf8"), "one\ntwo\n");
    assert.notEqual((await burrow(["run", "--rm", ref, "test", "-e", "/root/counter"])).code, 0);
  });

  test("clone: same files, changes of its own", async () => {
    cloneId = ok(await burrow(["clone", "--name=work2", "work"])).trim();
    assert.match(cloneId, /^[a-f0-9]{64}$/);
    assert.notEqual(cloneId, workId);
    assert.equal((await psNamed("work2"))?.id, cloneId);
    assert.equal(ok(await burrow(["run", "work2", "cat", "/root/counter"])), "one\ntwo\n");
    // A new file, a deleted one, and a folder removed and made again (opaque in an overlay layer).
    ok(
      await burrow([
        "run",
        "work2",
        "sh",
        "-c",
        "echo clone > /root/who && rm /etc/motd && rm -r /etc/apk && mkdir /etc/apk && echo only > /etc/apk/only",
      ]),
    );
    assert.notEqual(
      (await burrow(["run", "work", "test", "-e", "/root/who"])).code,
      0,
      "the original is unchanged",
    );
  });

  test("export: the container's files in a tar", async () => {
    ok(await burrow(["export", "-o", exportTar, "work"]));
    const names = tarNames(exportTar);
    for (const n of ["bin/busybox", "etc/alpine-release", "root/counter"]) assert.ok(names.includes(n), n);
    assert.ok(!names.includes("root/who"), "the clone's file is not in the original's export");
    assert.equal(tarMember(exportTar, "root/counter"), "one\ntwo\n");
  });

  test("import: a one-layer image; import --tocontainer: a container", async () => {
    const out = ok(await burrow(["import", exportTar, "imported:1"])).trim();
    assert.match(out, /^sha256:[a-f0-9]{64}$/);
    importedId = out.slice("sha256:".length);
    assert.equal(await imageNamed("imported:1"), importedId);
    const [info] = JSON.parse(ok(await burrow(["inspect", "imported:1"]))) as {
      RootFS: { diff_ids: string[] };
    }[];
    assert.equal(info?.RootFS.diff_ids.length, 1, "one layer");
    assert.equal(ok(await burrow(["run", "--rm", "imported:1", "cat", "/root/counter"])), "one\ntwo\n");

    fromTarId = ok(await burrow(["import", "--tocontainer", "--name=fromtar", exportTar])).trim();
    assert.match(fromTarId, /^[a-f0-9]{64}$/);
    assert.equal((await psNamed("fromtar"))?.id, fromTarId);
    assert.equal(ok(await burrow(["run", "fromtar", "cat", "/root/counter"])), "one\ntwo\n");
  });

  test("save, rmi, load, run the loaded image", async () => {
    ok(await burrow(["save", "-o", saveTar, "imported:1"]));
    const names = tarNames(saveTar);
    assert.ok(names.includes("manifest.json"), names.join(" "));
    const manifest = JSON.parse(tarMember(saveTar, "manifest.json")) as {
      RepoTags: string[];
      Layers: string[];
    }[];
    assert.equal(manifest.length, 1);
    assert.deepEqual(manifest[0]?.RepoTags, ["imported:1"]);
    assert.equal(manifest[0]?.Layers.length, 1);

    const rmi = await burrow(["rmi", "imported:1"]);
    assert.equal(rmi.code, 0, show(rmi));
    assert.match(rmi.stdout, /^Untagged: imported:1$/m);
    assert.equal(await imageNamed("imported:1"), undefined);

    const load = ok(await burrow(["load", "-i", saveTar]));
    assert.match(load, /^Loaded image: imported:1$/m);
    assert.equal(
      await imageNamed("imported:1"),
      importedId,
      "the same image id (config digest) as before the save",
    );
    assert.equal(ok(await burrow(["run", "--rm", "imported:1", "cat", "/root/counter"])), "one\ntwo\n");
  });

  test("protect: rm refused; unprotect: rm removes it", async () => {
    ok(await burrow(["protect", "work"]));
    assert.equal((await psNamed("work"))?.protected, true);
    assert.match(ok(await burrow(["ps"])), new RegExp(`^${workId.slice(0, 12)}\\s+P\\s+work\\s`, "m"));
    burrowFails(
      await burrow(["rm", "work"]),
      /container work is protected: run 'burrow unprotect work' first/,
    );
    assert.ok(containerDirs().includes(workId));
    assert.equal(ok(await burrow(["run", "work", "cat", "/root/counter"])), "one\ntwo\n", "it still runs");

    ok(await burrow(["unprotect", "work"]));
    assert.equal((await psNamed("work"))?.protected, false);
    ok(await burrow(["rm", "work"]));
    assert.equal(await psNamed("work"), undefined);
    assert.ok(!containerDirs().includes(workId), "its folder is gone");
    burrowFails(await burrow(["inspect", "work"]), /work/);
  });

  test("setup --execmode=P1 then run: PRoot runs the container, its files kept", async () => {
    // Where the kernel gave the container an overlay layer, PRoot (no overlay) gets it turned into a copy.
    assert.match((await psNamed("work2"))?.layer ?? "", /^(overlay|copy)$/);
    ok(await burrow(["setup", "--execmode=P1", "work2"]));
    assert.equal((await psNamed("work2"))?.engine, "proot");
    assert.match(ok(await burrow(["setup", "work2"])), /^work2: engine proot/);
    const r = await burrow([
      "run",
      "--debug",
      "work2",
      "sh",
      "-c",
      "grep TracerPid /proc/self/status; cat /root/who; ls /etc/apk; test -e /etc/motd || echo no motd",
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine proot \(from the container's saved engine\)$/m);
    assert.doesNotMatch(r.stdout, /TracerPid:\s+0$/m, "PRoot traces the program");
    assert.match(r.stdout, /^clone$/m, "the container's own file is there");
    assert.match(
      r.stdout,
      /^only\nno motd$/m,
      "its deletions too, and the folder it made again holds only its file",
    );
    assert.equal((await psNamed("work2"))?.layer, "copy");
    ok(await burrow(["run", "work2", "sh", "-c", "echo proot > /root/p1"]));
    assert.equal(ok(await burrow(["run", "work2", "cat", "/root/p1"])), "proot\n");
  });

  test("setup --engine runc then run: runc runs the container, its files kept", async () => {
    ok(await burrow(["setup", "--engine", "runc", "fromtar"]));
    assert.equal((await psNamed("fromtar"))?.engine, "runc");
    const r = await burrow([
      "run",
      "--debug",
      "fromtar",
      "sh",
      "-c",
      "echo runc > /root/r1; cat /root/counter",
    ]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine runc \(from the container's saved engine\)$/m);
    assert.equal(r.stdout, "one\ntwo\n");
    assert.equal(ok(await burrow(["run", "fromtar", "cat", "/root/r1"])), "runc\n");
  });

  test("tag: a local name for the image, run by that name", async () => {
    ok(await burrow(["tag", ref, "mine:latest"]));
    assert.equal(await imageNamed("mine:latest"), imageId);
    assert.equal(await imageNamed(ref), imageId, "the old name stays");
    assert.equal(
      ok(await burrow(["run", "--rm", "mine:latest", "cat", "/etc/alpine-release"])).trim().length > 0,
      true,
    );
    assert.equal(
      ok(await burrow(["run", "--rm", "mine", "echo", "by the short name"])),
      "by the short name\n",
    );
  });

  test("mkrepo, then --repo uses that store and leaves the default one alone", async () => {
    const repo = path.join(home.dir, "scratch-store");
    ok(await burrow(["mkrepo", repo]));
    assert.equal((fs.statSync(repo).mode & 0o777).toString(8), "700");
    assert.equal((await images(repo)).size, 0, "a new store is empty");
    const before = await images();
    assert.match(ok(await burrow(["--repo", repo, "load", "-i", saveTar])), /^Loaded image: imported:1$/m);
    assert.equal(await imageNamed("imported:1", repo), importedId);
    assert.equal(
      ok(await burrow(["--repo", repo, "run", "--rm", "imported:1", "cat", "/root/counter"])),
      "one\ntwo\n",
    );
    const id = ok(await burrow(["--repo", repo, "create", "--name=elsewhere", "imported:1"])).trim();
    assert.deepEqual(
      (await ps(repo)).map((c) => c.id),
      [id],
    );
    assert.ok(fs.existsSync(path.join(repo, "containers", id)));
    assert.deepEqual(await images(), before, "the default store's images are unchanged");
    assert.equal(await psNamed("elsewhere"), undefined);
  });

  test("run --rm --name leaves no container", async () => {
    const before = containerDirs().sort();
    assert.equal(
      ok(await burrow(["run", "--rm", "--name=temp", ref, "sh", "-c", "echo x > /x && cat /x"])),
      "x\n",
    );
    assert.equal(await psNamed("temp"), undefined);
    assert.deepEqual(containerDirs().sort(), before);
  });

  test("run --location runs a rootfs folder in place", async () => {
    const dir = path.join(home.dir, "rootfs");
    fs.mkdirSync(dir);
    execFileSync("tar", ["-xf", exportTar, "-C", dir]);
    await chownToTestUser(dir);
    assert.equal(ok(await burrow(["run", "--location", dir, "cat", "/root/counter"])), "one\ntwo\n");
    ok(await burrow(["run", "--location", dir, "sh", "-c", "echo loc > /root/written"]));
    assert.equal(
      fs.readFileSync(path.join(dir, "root/written"), "utf8"),
      "loc\n",
      "writes land in the folder",
    );
  });

  test("rm of several containers at once", async () => {
    const a = ok(await burrow(["create", "--name=a", ref])).trim();
    const b = ok(await burrow(["create", ref])).trim();
    const left = (await ps()).map((c) => c.id).sort();
    assert.deepEqual(left, [a, b, cloneId, fromTarId].sort());
    const out = ok(await burrow(["rm", "a", b.slice(0, 12), "work2", "fromtar"]));
    assert.deepEqual(out.trim().split("\n"), ["a", b.slice(0, 12), "work2", "fromtar"]);
    assert.deepEqual(await ps(), []);
    assert.deepEqual(containerDirs(), []);
    // The images stay, now that no container uses them.
    assert.equal(await imageNamed(ref), imageId);
    assert.equal(await imageNamed("imported:1"), importedId);
  });

  test("an unknown command is a usage error naming it and pointing at burrow help", async () => {
    const r = await burrow(["frobnicate", "x"]);
    failsWithUsage(r, /"frobnicate".*'burrow help'/);
    assert.equal(r.stdout, "");
  });

  test("burrow help lists the session's commands", async () => {
    const out = ok(await burrow(["help"]));
    for (const c of COMMANDS) assert.match(out, new RegExp(`^\\s*burrow ${c}\\b`, "m"), `help lists ${c}`);
  });
});
