// Named containers as a udocker user drives them, as the unprivileged test user against the local registry:
// create, ps, run (persistence), clone, name/rmname/rename, protect, rm, inspect, verify, concurrent runs, setup.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chownToTestUser, makeTestHome, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, burrowIn, burrowFails, ok, pullAlpine, show } from "../harness/suite.js";
import { engineNames } from "../../src/engine-registry.js";

/** Prints the tracer of the program (PRoot traces what it runs). */
const PROBE = ["sh", "-c", "grep TracerPid /proc/self/status"];

let home: TestHome;
let image = "";

const burrow = burrowIn(() => home);

/** The store's containers folder. */
const containersDir = (): string => path.join(home.burrowDir, "containers");

/** `burrow ps --format json`. */
async function ps(): Promise<
  { id: string; names: string[]; layer: string; protected: boolean; engine: string | null }[]
> {
  return JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as {
    id: string;
    names: string[];
    layer: string;
    protected: boolean;
    engine: string | null;
  }[];
}

/** Creates a container and returns its id (checked to be the one `create` printed). */
async function create(name: string, from = image, env: Record<string, string> = {}): Promise<string> {
  const out = ok(await burrow(["create", "--name", name, from], { env }));
  const id = out.trim();
  assert.match(id, /^[a-f0-9]{64}$/, `create prints the id, got ${JSON.stringify(out)}`);
  assert.ok(fs.statSync(path.join(containersDir(), id)).isDirectory());
  return id;
}

/** Skips (out loud) a test that needs an engine this build does not have. */
function needs(engine: string): { skip: string | false } {
  return {
    skip: engineNames.includes(engine) ? false : `needs the ${engine} engine, not in src/engine-registry.ts`,
  };
}

/** Pushes the Alpine layer under a config of its own (a distinct image id) and pulls it. */
function ownImage(label: string): Promise<string> {
  return pullAlpine(burrow, label, { labels: { test: label } });
}

before(async () => {
  home = await makeTestHome();
  image = await ownImage("ct-alpine");
});

after(async () => {
  await home?.cleanup();
});

describe("burrow create, ps, run", () => {
  test("create prints the id; ps lists the name; runs see what the previous run wrote", async () => {
    const id = await create("c1");
    const table = ok(await burrow(["ps"]));
    assert.match(table, /^CONTAINER ID\s+P\s+NAMES\s+IMAGE/);
    assert.match(table, new RegExp(`^${id.slice(0, 12)}\\s+\\.\\s+c1\\s+`, "m"));
    ok(await burrow(["run", "c1", "sh", "-c", "echo one > /root/state"]));
    assert.equal(ok(await burrow(["run", "c1", "cat", "/root/state"])), "one\n");
    assert.equal(ok(await burrow(["run", id.slice(0, 8), "cat", "/root/state"])), "one\n", "by id prefix");
    // The image itself is untouched: a plain run of it does not see the container's file.
    assert.notEqual((await burrow(["run", image, "cat", "/root/state"])).code, 0);
  });

  test("a container made by run --name keeps its changes too; -m and -s add the engine and size", async () => {
    ok(await burrow(["run", "--name", "r1", image, "sh", "-c", "head -c 300000 /dev/zero > /big"]));
    assert.equal(ok(await burrow(["run", "r1", "wc", "-c", "/big"])).trim(), "300000 /big");
    const table = ok(await burrow(["ps", "-m", "-s"]));
    assert.match(table, /ENGINE\s+SIZE/);
    const line = table.split("\n").find((l) => /\sr1\s/.test(l));
    assert.ok(line, table);
    assert.match(line, /\sauto\s+3\d\d\.\dkB$/, `r1's own layer holds the 300 kB file: ${line}`);
  });

  test("run --rm --name leaves no container behind", async () => {
    assert.equal(ok(await burrow(["run", "--rm", "--name", "gone", image, "echo", "hi"])), "hi\n");
    assert.equal((await ps()).filter((c) => c.names.includes("gone")).length, 0);
    assert.deepEqual(
      fs.readdirSync(containersDir()).filter((n) => n.startsWith(".")),
      [],
      "no temporary or half-removed folder left",
    );
  });

  test("create of a missing image, a name in use or a bad name: one line, exit 1, nothing made", async () => {
    const before = fs.readdirSync(containersDir()).sort();
    burrowFails(await burrow(["create", "--name", "c1", image]), /name "c1" is in use/);
    burrowFails(await burrow(["create", "--name=.x", image]), /invalid container name/);
    burrowFails(await burrow(["create", `${testEnv().registries.plain.host}/${uniqueRepo("none")}:1`]), /./);
    assert.deepEqual(fs.readdirSync(containersDir()).sort(), before);
  });
});

describe("names, clone, protect, rm", () => {
  test("name, rename and rmname show in ps and work with run", async () => {
    await create("n1");
    ok(await burrow(["run", "n1", "sh", "-c", "echo named > /root/f"]));
    ok(await burrow(["name", "n1", "alias1"]));
    assert.deepEqual((await ps()).find((c) => c.names.includes("n1"))?.names, ["n1", "alias1"]);
    assert.equal(ok(await burrow(["run", "alias1", "cat", "/root/f"])), "named\n");
    ok(await burrow(["rename", "alias1", "alias2"]));
    assert.deepEqual((await ps()).find((c) => c.names.includes("n1"))?.names, ["n1", "alias2"]);
    assert.equal(ok(await burrow(["run", "alias2", "cat", "/root/f"])), "named\n");
    ok(await burrow(["rmname", "alias2"]));
    assert.doesNotMatch(ok(await burrow(["ps"])), /alias/);
    burrowFails(await burrow(["name", "n1", "c1"]), /name "c1" is in use/);
    burrowFails(await burrow(["rmname", "alias2"]), /no container is named "alias2"/);
    burrowFails(await burrow(["rename", "nope", "x"]), /no container "nope"/);
  });

  test("clone has the same files and changes independently", async () => {
    await create("orig");
    ok(await burrow(["run", "orig", "sh", "-c", "echo v1 > /root/v && rm /etc/motd"]));
    const id = ok(await burrow(["clone", "--name", "copy", "orig"])).trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    assert.equal(ok(await burrow(["run", "copy", "cat", "/root/v"])), "v1\n");
    assert.notEqual((await burrow(["run", "copy", "test", "-e", "/etc/motd"])).code, 0, "deletions cloned");
    ok(await burrow(["run", "copy", "sh", "-c", "echo v2 > /root/v"]));
    assert.equal(ok(await burrow(["run", "orig", "cat", "/root/v"])), "v1\n");
    assert.equal(ok(await burrow(["run", "copy", "cat", "/root/v"])), "v2\n");
  });

  test("a protected container refuses rm (exit 1) and stays; unprotected, rm takes several at once", async () => {
    const a = await create("pa");
    const b = await create("pb");
    ok(await burrow(["protect", "pa"]));
    assert.equal((await ps()).find((c) => c.id === a)?.protected, true);
    assert.match(ok(await burrow(["ps"])), new RegExp(`^${a.slice(0, 12)}\\s+P\\s+pa`, "m"));
    burrowFails(await burrow(["rm", "pa"]), /container pa is protected: run 'burrow unprotect pa' first/);
    burrowFails(await burrow(["rm", "-f", "pa"]), /protected/);
    assert.ok(fs.existsSync(path.join(containersDir(), a)));
    ok(await burrow(["unprotect", "pa"]));
    ok(await burrow(["rm", "pa", b.slice(0, 12)]));
    assert.equal(fs.existsSync(path.join(containersDir(), a)), false);
    assert.equal(fs.existsSync(path.join(containersDir(), b)), false);
    const left = await ps();
    assert.equal(left.filter((c) => c.id === a || c.id === b).length, 0);
    burrowFails(await burrow(["rm", "pa"]), /no container "pa"/);
  });
});

describe("inspect and verify", () => {
  test("inspect gives the container as JSON", async () => {
    const id = await create("insp");
    const [info] = JSON.parse(ok(await burrow(["inspect", "insp"]))) as {
      Id: string;
      Names: string[];
      Burrow: { Layer: string; Path: string; ImageRootfs: string };
    }[];
    assert.equal(info?.Id, id);
    assert.deepEqual(info?.Names, ["insp"]);
    assert.ok(info?.Burrow.Path.startsWith(path.join(containersDir(), id)), info?.Burrow.Path);
  });

  for (const engine of ["userns", "runc", "proot"]) {
    test(
      `inspect -p (${engine}): the container's whole root file system, whose edits the next run sees`,
      needs(engine),
      async () => {
        const name = `insp-${engine}`;
        // A new file, a deletion, and a folder removed and made again (opaque in an overlay layer).
        ok(
          await burrow([
            "run",
            "--engine",
            engine,
            "--name",
            name,
            image,
            "sh",
            "-c",
            "mkdir -p /data && echo inside > /data/file && rm /etc/motd && rm -r /etc/apk && mkdir /etc/apk && echo only > /etc/apk/only",
          ]),
        );
        const before = (await ps()).find((c) => c.names.includes(name));
        assert.ok(before, "the run made the container");
        const r = await burrow(["inspect", "-p", name]);
        assert.equal(r.code, 0, show(r));
        const p = r.stdout.trim();
        assert.equal(p, path.join(containersDir(), before.id, "rootfs"));
        if (before.layer === "overlay") {
          assert.match(
            r.stderr,
            /^burrow: container insp-\S+ kept only its changes over its image; it now gets its own copy of the image \([\d.]+[kM]B, once, a reflink where the file system allows\) with them applied, so that this folder is its whole root file system\n$/,
          );
        } else {
          assert.equal(r.stderr, "", "a copy container is one folder already");
        }
        assert.equal((await ps()).find((c) => c.id === before.id)?.layer, "copy");
        assert.ok(fs.existsSync(path.join(p, "bin/busybox")), "the image's files are there");
        assert.equal(fs.readFileSync(path.join(p, "data/file"), "utf8"), "inside\n");
        assert.ok(!fs.existsSync(path.join(p, "etc/motd")), "the deletion too");
        assert.deepEqual(
          fs.readdirSync(path.join(p, "etc/apk")),
          ["only"],
          "the folder made again holds only its file",
        );
        // Edits made there while no run uses the container: the next run sees them.
        fs.appendFileSync(path.join(p, "data/file"), "edited\n");
        fs.writeFileSync(path.join(p, "data/from-host"), "host\n");
        await chownToTestUser(path.join(p, "data/from-host"));
        fs.rmSync(path.join(p, "etc/alpine-release"));
        assert.equal(
          ok(
            await burrow([
              "run",
              "--engine",
              engine,
              name,
              "sh",
              "-c",
              "cat /data/file /data/from-host; test -e /etc/alpine-release || echo gone",
            ]),
          ),
          "inside\nedited\nhost\ngone\n",
        );
        const again = await burrow(["inspect", "-p", name]);
        assert.equal(again.stdout.trim(), p, "the same folder, once made");
        assert.equal(again.stderr, "");
      },
    );
  }

  test("inspect -p of an overlay container a run is using: one line, exit 1, the layer untouched", async (t) => {
    const id = await create("insp-busy");
    if ((await ps()).find((c) => c.id === id)?.layer !== "overlay") {
      t.skip("the kernel gives no overlay here: every container is one folder, nothing to refuse");
      return;
    }
    const running = burrow(["run", "insp-busy", "sh", "-c", "echo x > /root/x; sleep 3"]);
    const lock = path.join(home.burrowDir, "locks", `container-${id}-layer.lock`);
    for (let i = 0; i < 100 && !fs.existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(fs.existsSync(lock), "the run holds the layer");
    burrowFails(
      await burrow(["inspect", "-p", "insp-busy"]),
      /^burrow: container insp-busy is running with its changes in an overlay layer, so no one folder holds its files yet: run 'burrow inspect -p insp-busy' again once that run has ended$/m,
    );
    ok(await running);
    assert.equal((await ps()).find((c) => c.id === id)?.layer, "overlay");
    const p = ok(await burrow(["inspect", "-p", "insp-busy"])).trim();
    assert.equal(fs.readFileSync(path.join(p, "root/x"), "utf8"), "x\n");
  });

  test("verify reports a container whose image rootfs is damaged", async () => {
    const ref = await ownImage("ct-verify");
    await create("ver", ref);
    assert.match(ok(await burrow(["verify", "ver"])), /^ver: OK$/m);
    const [img] = JSON.parse(ok(await burrow(["inspect", ref]))) as { Burrow: { Rootfs: string } }[];
    fs.rmSync(path.join(img!.Burrow.Rootfs, "etc/os-release"), { force: true });
    fs.rmSync(path.join(img!.Burrow.Rootfs, "etc/alpine-release"), { force: true });
    const r = await burrow(["verify", "ver"]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /^ver: DAMAGED$/m);
    assert.match(r.stdout, /rootfs has \d+ files/);
    const all = await burrow(["verify"]);
    assert.equal(all.code, 1, show(all));
    assert.match(all.stdout, /^container ver: DAMAGED$/m);
    assert.match(all.stdout, /^container c1: OK$/m);
  });

  test("images -l lists each image's layers with their sizes", async () => {
    const out = ok(await burrow(["images", "-l"]));
    const { digest } = await alpineLayer();
    assert.ok(out.includes(digest), out);
    assert.match(out, new RegExp(`${digest}\\s+\\d+(\\.\\d+)?[kM]B`));
  });
});

describe("images and protection", () => {
  test("a protected image refuses rmi and rmi -f; rmi of an image containers use removes the name, keeps the data", async () => {
    const ref = await ownImage("ct-rmi");
    ok(await burrow(["protect", ref]));
    burrowFails(await burrow(["rmi", ref]), /is protected: run 'burrow unprotect .*' first/);
    burrowFails(await burrow(["rmi", "-f", ref]), /is protected/);
    assert.match(ok(await burrow(["images"])), /ct-rmi/);
    ok(await burrow(["unprotect", ref]));
    await create("user", ref);
    await create("user2", ref);
    const [info] = JSON.parse(ok(await burrow(["inspect", "user"]))) as { Image: string }[];
    const id = info!.Image.replace(/^sha256:/, "");
    // As udocker's rmi: the name goes, exit 0, and one line says the containers keep the files.
    const rmi = await burrow(["rmi", ref]);
    assert.equal(rmi.code, 0, show(rmi));
    assert.match(rmi.stdout, /^Untagged: /m);
    assert.equal(
      rmi.stderr,
      `Kept ${id.slice(0, 12)} for container(s) user, user2: its files go when the last of them is removed\n`,
    );
    assert.doesNotMatch(ok(await burrow(["images"])), /ct-rmi/);
    assert.equal(ok(await burrow(["run", "user", "echo", "still runs"])), "still runs\n");
    ok(await burrow(["rm", "user"]));
    assert.ok(fs.existsSync(path.join(home.burrowDir, "images", id)), "kept for user2");
    assert.equal(ok(await burrow(["run", "user2", "echo", "still runs"])), "still runs\n");
    const rm = await burrow(["rm", "user2"]);
    assert.equal(rm.code, 0, show(rm));
    assert.match(
      rm.stderr,
      /^Deleted image [a-f0-9]{12}: rmi removed its name, and its last container is gone$/m,
    );
    assert.ok(!fs.existsSync(path.join(home.burrowDir, "images", id)), "gone with the last container");
  });
});

describe("concurrent runs of one container", () => {
  test("two runs of one container at once both work; the container stays consistent", async () => {
    await create("arr");
    ok(await burrow(["run", "arr", "sh", "-c", "echo base > /root/base"]));
    const shared = path.join(home.dir, "meet");
    fs.mkdirSync(shared);
    await chownToTestUser(shared);
    // Each run waits (up to 30 s) for the other to have started: both are running at the same time.
    const script =
      "touch /meet/$0; i=0; while [ ! -e /meet/$1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; test -e /meet/$1 && cat /root/base && echo $0 > /root/mark-$0";
    const [a, b] = await Promise.all([
      burrow(["run", "-v", `${shared}:/meet`, "arr", "sh", "-c", script, "A", "B"]),
      burrow(["run", "-v", `${shared}:/meet`, "arr", "sh", "-c", script, "B", "A"]),
    ]);
    assert.equal(ok(a), "base\n");
    assert.equal(ok(b), "base\n");
    const marks = ok(await burrow(["run", "arr", "sh", "-c", "ls /root | grep mark- || true"]))
      .trim()
      .split("\n")
      .filter(Boolean);
    const layer = (await ps()).find((c) => c.names.includes("arr"))?.layer;
    if (layer === "overlay") {
      assert.equal(
        [a, b].filter((r) => /is in use by another run: this run works on a snapshot/.test(r.stderr)).length,
        1,
        "the run that did not get the layer says so",
      );
      // One run had the container's layer; the other worked on a private snapshot of it (README: Containers).
      assert.equal(marks.length, 1, `exactly one run's writes are kept: ${marks.join(", ")}`);
    } else {
      assert.deepEqual(marks.sort(), ["mark-A", "mark-B"]);
    }
    assert.equal(ok(await burrow(["run", "arr", "cat", "/root/base"])), "base\n");
    const tmp = path.join(home.burrowDir, "tmp");
    assert.deepEqual(
      fs.readdirSync(tmp).filter((n) => n.startsWith("snapshot-")),
      [],
      "no snapshot left in the store",
    );
  });
});

describe("copy containers (BURROW_LAYER=copy)", () => {
  test("a copy container persists, clones, and inspect -p shows its whole rootfs", async () => {
    const env = { BURROW_LAYER: "copy" };
    const id = await create("cp1", image, env);
    assert.equal((await ps()).find((c) => c.id === id)?.layer, "copy");
    ok(await burrow(["run", "cp1", "sh", "-c", "echo kept > /root/k"], { env }));
    assert.equal(ok(await burrow(["run", "cp1", "cat", "/root/k"], { env })), "kept\n");
    const p = ok(await burrow(["inspect", "-p", "cp1"])).trim();
    assert.ok(fs.existsSync(path.join(p, "bin/busybox")), "the whole rootfs is there");
    assert.equal(fs.readFileSync(path.join(p, "root/k"), "utf8"), "kept\n");
    ok(await burrow(["clone", "--name", "cp2", "cp1"]));
    assert.equal(ok(await burrow(["run", "cp2", "cat", "/root/k"], { env })), "kept\n");
  });
});

describe("burrow setup with containers made by create", () => {
  test("setup --execmode=F1 prints a one-line notice and saves an engine that runs", async () => {
    await create("f1");
    const r = await burrow(["setup", "--execmode=F1", "f1"]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stderr.split("\n").filter((l) => /fakechroot/.test(l)).length, 1, r.stderr);
    assert.ok((await ps()).find((c) => c.names.includes("f1"))?.engine);
    assert.equal(ok(await burrow(["run", "--nosysdirs", "f1", "echo", "ran"])), "ran\n");
  });

  test("setup --execmode=P1 then run uses proot", needs("proot"), async () => {
    await create("p1");
    ok(await burrow(["setup", "--execmode=P1", "p1"]));
    assert.match(ok(await burrow(["ps", "-m"])), /\sp1\s.*\sproot$/m);
    const r = await burrow(["run", "--debug", "p1", ...PROBE]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /^burrow: debug: engine proot \(from the container's saved engine\)$/m);
    assert.doesNotMatch(r.stdout, /TracerPid:\s+0$/m);
    ok(await burrow(["run", "p1", "sh", "-c", "echo p > /root/p"]));
    assert.equal(ok(await burrow(["run", "p1", "cat", "/root/p"])), "p\n");
  });

  test(
    "setup --engine runc then run uses runc and keeps the container's changes",
    needs("runc"),
    async () => {
      await create("rc");
      ok(await burrow(["setup", "--engine", "runc", "rc"]));
      const r = await burrow(["run", "--debug", "rc", "sh", "-c", "echo r > /root/r"]);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, /^burrow: debug: engine runc \(from the container's saved engine\)$/m);
      assert.equal(ok(await burrow(["run", "rc", "cat", "/root/r"])), "r\n");
    },
  );
});
