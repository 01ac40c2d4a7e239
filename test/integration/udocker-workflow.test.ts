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

    // udocker users read and edit the container's files there: its whole root file system.
    const p = ok(await burrow(["inspect", "-p", "work"])).trim();
    assert.equal(p, path.join(home.burrowDir, "containers", workId, "rootfs"));
    assert.ok(fs.existsSync(path.join(p, "bin/busybox")), p);
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

/** The container's record as the store holds it. */
function recordOf(id: string): { engine?: string; execmode?: string } {
  return JSON.parse(
    fs.readFileSync(path.join(home.burrowDir, "containers", id, "container.json"), "utf8"),
  ) as { engine?: string; execmode?: string };
}

describe("udocker's scripts, unchanged (issue 11)", () => {
  test("the seed article's script: pull; create --name=_; setup --execmode=F1 _; run --nosysdirs _ ...", async () => {
    ok(await burrow(["pull", ref]));
    const id = ok(await burrow(["create", "--name=_", ref])).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const setup = await burrow(["setup", "--execmode=F1", "_"]);
    assert.equal(setup.code, 0, show(setup));
    assert.match(
      setup.stderr,
      /^burrow: execmode F1 is udocker's fakechroot mode, which burrow does not have; using \S+, the fastest engine that works here$/m,
    );
    // The article runs /bin/bash; the test image is Alpine, whose shell is /bin/sh.
    assert.equal(
      ok(await burrow(["run", "--nosysdirs", "_", "/bin/sh", "-c", 'echo "hello from inside udocker!"'])),
      "hello from inside udocker!\n",
    );
  });

  test("udocker's names are taken (_tmp, -x, a:b) and docker's (my.box); a name starting with - after --", async () => {
    for (const name of ["_tmp", "my.box", "a:b"]) {
      const id = ok(await burrow(["create", `--name=${name}`, ref])).trim();
      assert.equal((await psNamed(name))?.id, id);
      assert.equal(ok(await burrow(["run", name, "echo", name])), `${name}\n`);
    }
    const dash = ok(await burrow(["create", "--name=-x", ref])).trim();
    assert.equal((await psNamed("-x"))?.id, dash);
    assert.equal(ok(await burrow(["run", "--", "-x", "echo", "dash"])), "dash\n");
    assert.match(ok(await burrow(["setup", "--", "-x"])), /^-x: engine automatic/);
    assert.equal(
      ok(await burrow(["inspect", "-p", "--", "-x"])).trim(),
      path.join(home.burrowDir, "containers", dash, "rootfs"),
    );
    ok(await burrow(["name", "--", "-x", "-y"]));
    assert.deepEqual((await psNamed("-x"))?.names, ["-x", "-y"]);
    assert.deepEqual(ok(await burrow(["rm", "--", "-y", "_tmp", "my.box", "a:b"])).split("\n"), [
      "-y",
      "_tmp",
      "my.box",
      "a:b",
      "",
    ]);
    assert.equal(await psNamed("-x"), undefined);
  });

  test("a name udocker refuses (/ . space [ ]) is refused with udocker's rule named; nothing is made", async () => {
    const before = containerDirs().sort();
    for (const name of ["a/b", ".x", "_.x", "my box", "a[1]"]) {
      burrowFails(
        await burrow(["create", `--name=${name}`, ref]),
        /^burrow: invalid container name ".*": udocker's rule refuses \/ \. space \[ \] in a name, and docker's takes dots only after a letter or digit \(my\.box\): pick another$/m,
      );
    }
    burrowFails(await burrow(["name", "_", "a/b"]), /udocker's rule refuses/);
    assert.deepEqual(containerDirs().sort(), before);
  });

  test("a container name resolves before an image name: run, inspect, setup, verify", async () => {
    ok(await burrow(["tag", ref, "shadow:1"]));
    const id = ok(await burrow(["create", "--name=shadow:1", ref])).trim();
    ok(await burrow(["run", "shadow:1", "sh", "-c", "echo container > /marker"]));
    assert.equal(ok(await burrow(["run", "shadow:1", "cat", "/marker"])), "container\n");
    assert.notEqual(
      (await burrow(["run", "--rm", imageId.slice(0, 12), "test", "-e", "/marker"])).code,
      0,
      "the image has no marker",
    );
    const [info] = JSON.parse(ok(await burrow(["inspect", "shadow:1"]))) as { Id: string }[];
    assert.equal(info?.Id, id, "inspect shows the container");
    assert.match(ok(await burrow(["setup", "shadow:1"])), /^shadow:1: engine /);
    assert.equal(ok(await burrow(["verify", "shadow:1"])), "shadow:1: OK\n");
    ok(await burrow(["rm", "shadow:1"]));
    ok(await burrow(["rmi", "shadow:1"]));
  });

  test("setup with no mode keeps automatic selection and says what runs (udocker's default is P1)", async () => {
    const id = ok(await burrow(["create", "--name=auto", ref])).trim();
    assert.equal(
      ok(await burrow(["setup", "auto"])),
      "auto: engine automatic (none saved): userns runs it here, the first engine that works; udocker's default, P1 (PRoot), is 'burrow setup --execmode=P1 auto'\n",
    );
    assert.match(
      ok(await burrow(["setup", "auto"], { env: { BURROW_TEST_DISABLE_ENGINES: "userns" } })),
      /^auto: engine automatic \(none saved\): runc runs it here/,
    );
    assert.equal(recordOf(id).engine, undefined, "nothing saved");
  });

  for (const mode of ["R1", "R2", "R3"]) {
    test(`setup --execmode=${mode}: runc runs it, root emulated so that software installs`, async () => {
      const name = `rmode-${mode}`;
      const id = ok(await burrow(["create", `--name=${name}`, ref])).trim();
      const setup = await burrow(["setup", `--execmode=${mode}`, name]);
      assert.equal(setup.code, 0, show(setup));
      if (mode === "R1") assert.equal(setup.stderr, `${name}: engine runc (execmode R1)\n`);
      else {
        assert.equal(
          setup.stderr,
          `burrow: execmode ${mode} is udocker's runc with PRoot inside it (${mode === "R2" ? "with" : "without"} seccomp) to install software as emulated root; burrow's runc engine emulates root itself, so runc runs it\n${name}: engine runc (execmode ${mode})\n`,
        );
      }
      assert.equal(recordOf(id).engine, "runc");
      assert.equal(recordOf(id).execmode, mode, "the mode is kept for setup to show");
      assert.equal(ok(await burrow(["setup", name])), `${name}: engine runc (execmode ${mode})\n`);
      const r = await burrow([
        "run",
        "--debug",
        name,
        "sh",
        "-c",
        "adduser -D -u 1234 builder && chown -R builder /home/builder && id -u && echo installed",
      ]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /^burrow: debug: engine runc \(from the container's saved engine\)$/m);
      assert.equal(r.stdout, "0\ninstalled\n");
      assert.equal(
        ok(await burrow(["run", name, "id", "-u", "builder"])),
        "1234\n",
        "the container keeps it",
      );
    });
  }

  test("setup --execmode=S1 (Singularity/Apptainer, not installed here) runs the fastest engine, saying so", async () => {
    const id = ok(await burrow(["create", "--name=s1", ref])).trim();
    const r = await burrow(["setup", "--execmode=S1", "s1"]);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stderr,
      /^burrow: execmode S1 is udocker's Singularity\/Apptainer mode; neither is installed here and burrow has no engine for them, so userns runs it, the fastest engine that works here\ns1: engine userns \(execmode S1\)\n$/,
    );
    assert.equal(recordOf(id).engine, "userns");
    assert.equal(ok(await burrow(["run", "s1", "echo", "ran"])), "ran\n");
  });

  test("rmi of the image the containers were made from: exit 0, one line, the containers still run", async () => {
    // The session gave the image a second name (tag mine:latest): both go.
    const rmi = await burrow(["rmi", ref, "mine:latest"]);
    assert.equal(rmi.code, 0, show(rmi));
    assert.match(rmi.stdout, /^Untagged: .*\nUntagged: mine:latest\n$/);
    assert.match(
      rmi.stderr,
      /^Kept [a-f0-9]{12} for container\(s\) _, .*: its files go when the last of them is removed\n$/,
    );
    assert.equal(await imageNamed(ref), undefined);
    assert.equal(ok(await burrow(["run", "--nosysdirs", "_", "echo", "still"])), "still\n");
  });

  test("UDOCKER_DIR names the store when BURROW_DIR is unset (udocker_test.sh T031-T033)", async () => {
    const dir = path.join(home.dir, "udocker-test-dir");
    ok(await burrow(["mkrepo", dir]));
    ok(await burrow([`--repo=${dir}`, "pull", ref]));
    ok(await burrow([`--repo=${dir}`, "verify", ref]));
    const r = await burrow(["verify", ref], { env: { BURROW_DIR: undefined, UDOCKER_DIR: dir } });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, `${ref}: OK\n`);
    burrowFails(await burrow(["verify", ref], { env: { UDOCKER_DIR: dir } }), /no image/);
  });

  test("a folder holding udocker's own repository is said so in one line, and nothing of burrow's is put in it", async () => {
    const dir = path.join(home.dir, "dot-udocker");
    for (const d of ["repos/library/alpine", "layers", "containers", "bin", "lib"]) {
      fs.mkdirSync(path.join(dir, d), { recursive: true });
    }
    await chownToTestUser(dir);
    const before = fs.readdirSync(dir).sort();
    const env = { BURROW_DIR: undefined, UDOCKER_DIR: dir };
    const line = new RegExp(
      `^burrow: ${dir} \\(UDOCKER_DIR\\) holds a udocker repository \\(its repos/ and layers/\\), which burrow does not read or mix its own store into: set BURROW_DIR \\(read before UDOCKER_DIR\\) or --repo to another folder, and pull or load the images there$`,
      "m",
    );
    burrowFails(await burrow(["images"], { env }), line);
    burrowFails(await burrow(["run", ref, "true"], { env }), line);
    burrowFails(await burrow([`--repo=${dir}`, "pull", ref]), /\(--repo\) holds a udocker repository/);
    burrowFails(await burrow(["mkrepo", dir]), /\(given to mkrepo\) holds a udocker repository/);
    assert.deepEqual(fs.readdirSync(dir).sort(), before, "nothing added");
  });
});
