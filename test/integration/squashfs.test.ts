// Images kept as one SquashFS file (BURROW_IMAGE_FORMAT=squashfs, issue 14): pulled without an unpacked
// tree in the store, mounted (userns) or unpacked once on the node (proot, runc) with the same files the
// flattened folder has, `burrow run ./FILE.sqfs`, and save/import/load of such a file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runBurrow, makeTestHome, chownToTestUser } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, plainRegistryEnv, TEST_ENGINES } from "../harness/suite.js";

let dirHome: TestHome;
let sqHome: TestHome;
let ref = "";
const scratchOf = (home: TestHome) => path.join(home.dir, "node-tmp");
const sqEnv = () => ({
  ...plainRegistryEnv(),
  BURROW_IMAGE_FORMAT: "squashfs",
  BURROW_TMPDIR: scratchOf(sqHome),
});
const dirEnv = () => ({ ...plainRegistryEnv(), BURROW_TMPDIR: scratchOf(dirHome) });

/**
 * What `ls -lnAR` prints of the image's own folders inside a container (the run's generated /etc files left
 * out), without what the file system decides rather than the image: block totals and folders' sizes.
 */
const LISTING =
  "cd / && ls -lnAR bin lib sbin usr var etc | grep -vE ' (hosts|hostname|resolv.conf|mtab)( |$)' | awk '/^total /{next} /^d/{$5=\"-\"} {print}'";

before(async () => {
  dirHome = await makeTestHome();
  sqHome = await makeTestHome();
  for (const h of [dirHome, sqHome]) {
    fs.mkdirSync(scratchOf(h), { mode: 0o700 });
    await chownToTestUser(scratchOf(h));
  }
  const pushed = await pushImage("plain", uniqueRepo("sqfs"), "1", [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"], WorkingDir: "/srv/app" },
  });
  ref = pushed.ref;
  const d = await runBurrow(["pull", ref], { home: dirHome, env: dirEnv() });
  assert.equal(d.code, 0, d.stderr);
  const s = await runBurrow(["pull", ref], { home: sqHome, env: sqEnv() });
  assert.equal(s.code, 0, s.stderr);
});
after(async () => {
  await dirHome.cleanup();
  await sqHome.cleanup();
});

/** The pids of SquashFUSE processes whose command line names a path under `dir`. */
function squashfuseServersOf(dir: string): number[] {
  return squashfuseProcessesOf(dir).map((p) => p.pid);
}

/**
 * SquashFUSE processes whose command line names a path under `dir`, with their parents. A server puts
 * itself in the background (libfuse's daemonize): for a moment its parent, waiting for the child's word,
 * bears the same command line.
 */
function squashfuseProcessesOf(dir: string): { pid: number; ppid: number }[] {
  const found: { pid: number; ppid: number }[] = [];
  for (const pid of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (!/^squashfuse/.test(path.basename(argv[0] ?? "")) || !argv.some((a) => a.includes(dir))) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      found.push({ pid: Number(pid), ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) });
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** The SquashFUSE servers of `dir` as "pid<-ppid", the daemonizing child of one counted as that one. */
function distinctServersOf(dir: string): string[] {
  const procs = squashfuseProcessesOf(dir);
  const pids = new Set(procs.map((p) => p.pid));
  return procs.filter((p) => !pids.has(p.ppid)).map((p) => `${p.pid}<-${p.ppid}`);
}

test("a pull in squashfs format keeps one SquashFS file and no unpacked tree, in the store or in scratch", async () => {
  const images = path.join(sqHome.burrowDir, "images");
  const ids = fs.readdirSync(images).filter((n) => /^[a-f0-9]{64}$/.test(n));
  assert.equal(ids.length, 1);
  const held = fs.readdirSync(path.join(images, ids[0]!)).sort();
  assert.ok(held.includes("rootfs.sqfs"), held.join(" "));
  assert.ok(held.includes("rootfs.facts.json"), held.join(" "));
  assert.ok(!held.includes("rootfs"), "no rootfs/ folder in the store");
  assert.equal(
    fs
      .readFileSync(path.join(images, ids[0]!, "rootfs.sqfs"))
      .subarray(0, 4)
      .toString(),
    "hsqs",
  );
  assert.deepEqual(fs.readdirSync(scratchOf(sqHome)), [], "the flattening scratch is gone");
  const inspect = await runBurrow(["inspect", ref], { home: sqHome });
  assert.match(inspect.stdout, /"Format": "squashfs"/);
  const verify = await runBurrow(["verify", ref], { home: sqHome });
  assert.equal(verify.code, 0, verify.stderr);
});

// userns mounts it in the container's namespaces; runc is started in the user namespace of the node's shared
// mount, a clone of it at the overlay's lower folder (burrow-ns --squashfs-enter).
for (const engine of ["userns", "runc"]) {
  test(`engine ${engine} mounts the file: the same files as the flattened folder, writes to a private layer`, async () => {
    const fromDir = await runBurrow(["run", "--engine", engine, ref, "sh", "-c", LISTING], {
      home: dirHome,
      env: dirEnv(),
    });
    assert.equal(fromDir.code, 0, fromDir.stderr);
    const fromSq = await runBurrow(["run", "--engine", engine, ref, "sh", "-c", LISTING], {
      home: sqHome,
      env: sqEnv(),
    });
    assert.equal(fromSq.code, 0, fromSq.stderr);
    assert.equal(fromSq.stderr, "", "mounted, not unpacked: no notice");
    assert.ok(fromDir.stdout.split("\n").length > 500, "the listing covers the image");
    assert.equal(fromSq.stdout, fromDir.stdout, "types, modes, owners, sizes, times and link targets match");

    const w = await runBurrow(
      [
        "run",
        "--engine",
        engine,
        ref,
        "sh",
        "-c",
        "pwd; id -u; echo x >> /etc/motd && echo new > /etc/added && cat /etc/added; grep -c squashfuse /proc/mounts",
      ],
      { home: sqHome, env: sqEnv() },
    );
    assert.equal(w.stdout, "/srv/app\n0\nnew\n0\n", w.stderr);
    const again = await runBurrow(
      ["run", "--engine", engine, ref, "sh", "-c", "test -e /etc/added; echo $?"],
      {
        home: sqHome,
        env: sqEnv(),
      },
    );
    assert.equal(again.stdout, "1\n", "a run's writes are its own");
    if (engine === "userns") {
      // fuse-overlayfs as the writable layer (BURROW_LAYER=fuse) over the mount works as the kernel's does.
      const fused = await runBurrow(
        ["run", "--engine", engine, ref, "sh", "-c", "echo f > /etc/f && cat /etc/f /etc/alpine-release"],
        {
          home: sqHome,
          env: { ...sqEnv(), BURROW_LAYER: "fuse" },
        },
      );
      assert.equal(fused.stdout, "f\n3.20.3\n", fused.stderr);
    }
    const cache = fs.readdirSync(scratchOf(sqHome)).filter((n) => n.startsWith("burrow-sqfs-"));
    const unpacked = cache
      .flatMap((c) => fs.readdirSync(path.join(scratchOf(sqHome), c)))
      .filter((n) => /^[0-9a-f]{64}$/.test(n));
    assert.deepEqual(unpacked, [], "nothing unpacked on the node");
    assert.deepEqual(await serversGone(), [], "no SquashFUSE server is left a few seconds after the runs");
    assert.ok(
      !fs.readFileSync("/proc/self/mountinfo", "utf8").includes(sqHome.burrowDir),
      "nothing of the store is mounted on the host",
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The SquashFUSE servers of the squashfs store once they have had time to go, with their keepers' meeting
 * folders (the keeper lingers 3 s, then unmounts, which ends the server, and removes its folder).
 */
async function serversGone(): Promise<number[]> {
  const busy = () => squashfuseServersOf(sqHome.burrowDir).length > 0 || meetingFolders().length > 0;
  for (let i = 0; i < 40 && busy(); i++) await sleep(250);
  return squashfuseServersOf(sqHome.burrowDir);
}

/** The node's meeting folders of shared mounts (BURROW_TMPDIR/burrow-sqfs-UID/mounts/KEY). */
function meetingFolders(): string[] {
  const base = scratchOf(sqHome);
  return fs
    .readdirSync(base)
    .filter((n) => n.startsWith("burrow-sqfs-"))
    .flatMap((n) => {
      const mounts = path.join(base, n, "mounts");
      return fs.existsSync(mounts) ? fs.readdirSync(mounts).map((k) => path.join(mounts, k)) : [];
    });
}

/** The pids of processes whose command line, its words joined by spaces, contains `text`. */
function processesWith(text: string): number[] {
  return fs
    .readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The pids of the squashfs store's keepers, once they have their name in ps (`burrow-ns --squashfs-keeper FILE`). */
function keeperPids(): number[] {
  return processesWith(`burrow-ns --squashfs-keeper ${sqHome.burrowDir}/`);
}

test("runs at once on a node share one SquashFUSE mount, gone after the last; a killed run or keeper leaves nothing stuck", async () => {
  assert.deepEqual(await serversGone(), []);
  // Six runs at once: one server for all of them, while they run.
  const runs = Array.from({ length: 6 }, () =>
    runBurrow(
      ["run", "--engine", "userns", ref, "sh", "-c", "sleep 2; md5sum /bin/busybox; cat /etc/alpine-release"],
      {
        home: sqHome,
        env: sqEnv(),
      },
    ),
  );
  let most: string[] = [];
  let done = false;
  void Promise.all(runs).then(() => (done = true));
  while (!done) {
    const now = distinctServersOf(sqHome.burrowDir);
    if (now.length > most.length) most = now;
    await sleep(100);
  }
  const results = await Promise.all(runs);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, results[0]!.stdout);
  }
  assert.match(results[0]!.stdout, /\/bin\/busybox\n\d+\.\d+/);
  assert.equal(
    most.length,
    1,
    `one SquashFUSE server served the six runs (at most at once: ${most.join(", ")})`,
  );
  const keeper = keeperPids();
  assert.equal(keeper.length, 1, "the keeper is named as such in ps");
  assert.deepEqual(await serversGone(), [], "the mount goes after the last run");
  assert.deepEqual(meetingFolders(), [], "and its meeting folder with it");
  assert.ok(
    !fs.readFileSync("/proc/self/mountinfo", "utf8").includes(scratchOf(sqHome)),
    "nothing on the host",
  );

  // A run killed with SIGKILL lets go of the mount: it goes as after a run that ended.
  const killed = runBurrow(["run", "--engine", "userns", ref, "sleep", "31"], { home: sqHome, env: sqEnv() });
  // Up once the keeper has its name in ps: until then it has the run's command line, and killing it then
  // (as a run's process) left its meeting folder for the next run to reuse (CI, 1 run in some 20).
  for (
    let i = 0;
    i < 40 && (squashfuseServersOf(sqHome.burrowDir).length === 0 || keeperPids().length === 0);
    i++
  )
    await sleep(100);
  const helpers = processesWith("-- sleep 31").filter((pid) => !keeperPids().includes(pid));
  assert.ok(helpers.length > 0, "the run is up");
  for (const pid of helpers) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile: a helper's short-lived fork (the one that starts the keeper) has its command line.
    }
  }
  assert.equal((await killed).code === 0, false);
  assert.deepEqual(await serversGone(), [], "a killed run leaves no mount behind");
  assert.deepEqual(meetingFolders(), []);

  // A killed keeper: the run using it loses its files (as with any server killed), the next run starts anew.
  const hurt = runBurrow(["run", "--engine", "userns", ref, "sh", "-c", "sleep 2; cat /etc/alpine-release"], {
    home: sqHome,
    env: sqEnv(),
  });
  // The keeper is killed once the run's program is up (its `sleep 2`, argv exactly that): the run has
  // attached the mount by then, and does not start a keeper of its own instead.
  let keepers: number[] = [];
  for (let i = 0; i < 50 && (keepers.length === 0 || processesWith("sleep 2 ").length === 0); i++) {
    await sleep(100);
    keepers = keeperPids();
  }
  assert.equal(keepers.length, 1);
  process.kill(keepers[0]!, "SIGKILL");
  const lost = await hurt;
  // Reading a file gives ENOTCONN; a page of a program mapped from the mount (busybox) gives SIGBUS, which
  // the shell reports as "Bus error" (1 time in 3 beside build.test, where the page cache was pressed).
  assert.notEqual(lost.code, 0, lost.stderr);
  assert.match(lost.stderr, /not connected|connection abort|Bus error/);
  const next = await runBurrow(["run", "--engine", "userns", ref, "cat", "/etc/alpine-release"], {
    home: sqHome,
    env: sqEnv(),
  });
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stdout, /^\d+\.\d+/);
  assert.deepEqual(await serversGone(), []);
  assert.deepEqual(meetingFolders(), []);
});

for (const engine of TEST_ENGINES.filter((e) => e !== "userns" && e !== "runc")) {
  test(`engine ${engine} runs a SquashFS image from its file unpacked once on the node, with a notice`, async () => {
    const r = await runBurrow(["run", "--engine", engine, ref, "sh", "-c", "cat /etc/alpine-release; pwd"], {
      home: sqHome,
      env: sqEnv(),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "3.20.3\n/srv/app\n");
    const cache = fs.readdirSync(scratchOf(sqHome)).filter((n) => n.startsWith("burrow-sqfs-"));
    assert.equal(cache.length, 1, "one private cache folder on the node");
    assert.equal(fs.statSync(path.join(scratchOf(sqHome), cache[0]!)).mode & 0o777, 0o700);
    const second = await runBurrow(["run", "--engine", engine, ref, "sh", "-c", LISTING], {
      home: sqHome,
      env: sqEnv(),
    });
    assert.equal(second.code, 0, second.stderr);
    assert.doesNotMatch(second.stderr, /unpacked once/, "unpacked once: the next run uses it");
    // The unpacked copy has the image's modes (unsquashfs would take the umask off them: 0775 became 0755).
    const fromDir = await runBurrow(["run", "--engine", engine, ref, "sh", "-c", LISTING], {
      home: dirHome,
      env: dirEnv(),
    });
    assert.equal(fromDir.code, 0, fromDir.stderr);
    assert.match(fromDir.stdout, /-rwxrwxr-x .* dad\n/, "the image has a group-writable file");
    assert.equal(second.stdout, fromDir.stdout, "types, modes, owners, sizes, times and link targets match");
  });
}

test("save --format squashfs, then run ./FILE.sqfs on every engine, import and load of the file", async () => {
  const file = path.join(sqHome.dir, "alpine.sqfs");
  const saved = await runBurrow(["save", "--format", "squashfs", "-o", file, ref], {
    home: dirHome,
    env: dirEnv(),
  });
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(fs.readFileSync(file).subarray(0, 4).toString(), "hsqs");
  for (const engine of TEST_ENGINES) {
    const r = await runBurrow(
      [
        "run",
        "--engine",
        engine,
        "./alpine.sqfs",
        "sh",
        "-c",
        "cat /etc/alpine-release; id -u; echo w > /w && cat /w",
      ],
      { home: sqHome, env: sqEnv(), cwd: sqHome.dir },
    );
    assert.equal(r.code, 0, `${engine}: ${r.stderr}`);
    assert.equal(r.stdout, "3.20.3\n0\nw\n", engine);
  }
  const imported = await runBurrow(["import", file, "from-sqfs:1"], { home: dirHome, env: dirEnv() });
  assert.equal(imported.code, 0, imported.stderr);
  // In the squashfs format, the imported image is one file too.
  const sqImport = await runBurrow(["import", file, "from-sqfs:2"], { home: sqHome, env: sqEnv() });
  assert.equal(sqImport.code, 0, sqImport.stderr);
  const id = sqImport.stdout.trim().replace(/^sha256:/, "");
  assert.ok(fs.existsSync(path.join(sqHome.burrowDir, "images", id, "rootfs.sqfs")));
  assert.ok(!fs.existsSync(path.join(sqHome.burrowDir, "images", id, "rootfs")));
  const r2 = await runBurrow(["run", "from-sqfs:2", "cat", "/etc/alpine-release"], {
    home: sqHome,
    env: sqEnv(),
  });
  assert.equal(r2.stdout, "3.20.3\n", r2.stderr);
  const loaded = await runBurrow(["load", "-i", file], { home: dirHome, env: dirEnv() });
  assert.equal(loaded.code, 0, loaded.stderr);
  assert.match(loaded.stdout, /^Loaded image ID: sha256:[a-f0-9]{64}\n$/);
  const r = await runBurrow(["run", "from-sqfs:1", "cat", "/etc/alpine-release"], {
    home: dirHome,
    env: dirEnv(),
  });
  assert.equal(r.stdout, "3.20.3\n", r.stderr);
  const bad = await runBurrow(["save", "--format", "squashfs", ref], { home: dirHome, env: dirEnv() });
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^burrow: .*-o FILE/);
});

test("squashfs format without mksquashfs is one line, status 1, and nothing in the store", async () => {
  const home = await makeTestHome();
  try {
    const r = await runBurrow(["pull", ref], {
      home,
      env: {
        ...plainRegistryEnv(),
        BURROW_IMAGE_FORMAT: "squashfs",
        BURROW_MKSQUASHFS: "/nonexistent/mksquashfs",
      },
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^burrow: .*mksquashfs is not found/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    const images = path.join(home.burrowDir, "images");
    const left = fs.existsSync(images) ? fs.readdirSync(images) : [];
    assert.deepEqual(left, []);
    const wrong = await runBurrow(["pull", ref], {
      home,
      env: { ...plainRegistryEnv(), BURROW_IMAGE_FORMAT: "sif" },
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /BURROW_IMAGE_FORMAT="sif": it must be "dir" or "squashfs"/);
  } finally {
    await home.cleanup();
  }
});

test("rmi of a SquashFS image removes its file and this node's unpacked copy", async () => {
  const unpack = await runBurrow(["run", "--nosysdirs", ref, "true"], { home: sqHome, env: sqEnv() });
  assert.equal(unpack.code, 0, unpack.stderr);
  const cache = fs.readdirSync(scratchOf(sqHome)).find((n) => n.startsWith("burrow-sqfs-"))!;
  const inspect = JSON.parse((await runBurrow(["inspect", ref], { home: sqHome })).stdout) as {
    Id: string;
  }[];
  const id = inspect[0]!.Id.replace(/^sha256:/, "");
  assert.ok(fs.existsSync(path.join(scratchOf(sqHome), cache, id)), "unpacked once on this node");
  const rmi = await runBurrow(["rmi", ref], { home: sqHome, env: sqEnv() });
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.match(rmi.stdout, /^Deleted: sha256:/m);
  assert.ok(!fs.existsSync(path.join(sqHome.burrowDir, "images", id)));
  assert.ok(!fs.existsSync(path.join(scratchOf(sqHome), cache, id)), "the node's copy went with it");
});

test("rmi of a SquashFS image a mounted run uses: gone from the store at once, the run reads its files to the end", async () => {
  const pull = await runBurrow(["pull", ref], { home: sqHome, env: sqEnv() });
  assert.equal(pull.code, 0, pull.stderr);
  const inspect = JSON.parse((await runBurrow(["inspect", ref], { home: sqHome })).stdout) as {
    Id: string;
  }[];
  const id = inspect[0]!.Id.replace(/^sha256:/, "");
  const using = runBurrow(
    [
      "run",
      "--engine",
      "userns",
      ref,
      "sh",
      "-c",
      "sleep 2; cat /etc/alpine-release; md5sum /bin/busybox | cut -c1-32",
    ],
    { home: sqHome, env: sqEnv() },
  );
  for (let i = 0; i < 50 && keeperPids().length === 0; i++) await sleep(100);
  const rmi = await runBurrow(["rmi", ref], { home: sqHome, env: sqEnv() });
  assert.equal(rmi.code, 0, rmi.stderr);
  assert.ok(!fs.existsSync(path.join(sqHome.burrowDir, "images", id)), "removed now, not when the run ends");
  const r = await using;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n[0-9a-f]{32}\n$/);
  const after = await runBurrow(["run", "--pull", "never", ref, "true"], { home: sqHome, env: sqEnv() });
  assert.notEqual(after.code, 0);
  assert.deepEqual(await serversGone(), []);
});

test("bad SquashFS input: a file cut short, not SquashFS, or missing is one line and 125 on every engine; no SquashFUSE is unpacked instead", async () => {
  const stored = fs
    .readdirSync(path.join(sqHome.burrowDir, "images"))
    .map((id) => path.join(sqHome.burrowDir, "images", id, "rootfs.sqfs"))
    .find((f) => fs.existsSync(f))!;
  const cut = path.join(sqHome.dir, "cut.sqfs");
  fs.writeFileSync(cut, fs.readFileSync(stored).subarray(0, 50_000));
  fs.writeFileSync(path.join(sqHome.dir, "text.sqfs"), "not squashfs\n");
  for (const f of ["cut.sqfs", "text.sqfs"]) await chownToTestUser(path.join(sqHome.dir, f));
  for (const engine of TEST_ENGINES) {
    for (const [target, said] of [
      ["./cut.sqfs", /^burrow: \.\/cut\.sqfs is a SquashFS file cut short \(.*\): copy or make it again\n$/],
      ["./text.sqfs", /^burrow: \.\/text\.sqfs is not a SquashFS file .*\n$/],
      ["./missing.sqfs", /^burrow: \.\/missing\.sqfs: no such file .*\n$/],
    ] as const) {
      const r = await runBurrow(["run", "--engine", engine, target, "true"], {
        home: sqHome,
        env: sqEnv(),
        cwd: sqHome.dir,
      });
      assert.equal(r.code, 125, `${engine} ${target}: ${r.stderr}`);
      assert.match(r.stderr, said, `${engine} ${target}`);
    }
  }
  // No SquashFUSE (BURROW_SQUASHFUSE names none): the fallback, said in one line, and the run works.
  const r = await runBurrow(["run", "--engine", "userns", ref, "cat", "/etc/alpine-release"], {
    home: sqHome,
    env: { ...sqEnv(), BURROW_SQUASHFUSE: path.join(sqHome.dir, "no-squashfuse") },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "3.20.3\n");
  assert.match(
    r.stderr,
    /^burrow: warning: the SquashFS file .* cannot be mounted here .*: it is unpacked once on this node, into .*\n$/,
  );
});

// The base's WorkingDir (/srv/app) is in no layer: the RUN step makes it, as runc and Podman do.
test("a build in squashfs format keeps its image as one SquashFS file, with the files the folder format's build has", async () => {
  const dockerfile = [
    `FROM ${ref}`,
    "RUN adduser -D app && mkdir /data && chown app /data && echo hi > /data/x && rm /etc/motd",
    "COPY note.txt /data/",
    "USER app",
    'CMD ["cat", "/data/x", "/data/note.txt"]',
    "",
  ].join("\n");
  const built: Record<string, string> = {};
  for (const [name, home, env] of [
    ["dir", dirHome, dirEnv()],
    ["squashfs", sqHome, sqEnv()],
  ] as const) {
    const ctx = path.join(home.dir, "build-ctx");
    fs.mkdirSync(ctx);
    fs.writeFileSync(path.join(ctx, "Dockerfile"), dockerfile);
    fs.writeFileSync(path.join(ctx, "note.txt"), "a note\n");
    await chownToTestUser(ctx);
    // SOURCE_DATE_EPOCH: both builds give their steps the same time, so the same files make the same image.
    const b = await runBurrow(
      ["build", "-q", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "-t", "built:1", "."],
      { home, env, cwd: ctx },
    );
    assert.equal(b.code, 0, `${name}: ${b.stderr}`);
    built[name] = b.stdout.trim();
  }
  assert.equal(built.squashfs, built.dir, "the same image (config, layers) in both formats");
  const held = fs.readdirSync(path.join(sqHome.burrowDir, "images", built.squashfs!)).sort();
  assert.ok(held.includes("rootfs.sqfs") && !held.includes("rootfs"), held.join(" "));
  const inspect = await runBurrow(["inspect", "built:1"], { home: sqHome });
  assert.match(inspect.stdout, /"Format": "squashfs"/);
  for (const engine of TEST_ENGINES) {
    const r = await runBurrow(["run", "--engine", engine, "built:1"], { home: sqHome, env: sqEnv() });
    assert.equal(r.code, 0, `${engine}: ${r.stderr}`);
    assert.equal(r.stdout, "hi\na note\n", engine);
  }
  // The image's user (app) writes in the folder the image gave it, on every engine and in both formats, and
  // sees the same owners in both: on a SquashFUSE mount, the files read as owned by nobody before, and
  // `touch` failed with "Permission denied".
  const asApp = [
    "built:1",
    "sh",
    "-c",
    "id -u && touch /data/new && stat -c '%U %u %a' /data /data/x /data/new",
  ];
  for (const engine of TEST_ENGINES) {
    const seen: string[] = [];
    for (const [name, home, env] of [
      ["dir", dirHome, dirEnv()],
      ["squashfs", sqHome, sqEnv()],
    ] as const) {
      const r = await runBurrow(["run", "--rm", "--engine", engine, ...asApp], { home, env });
      assert.equal(r.code, 0, `${engine} ${name}: ${r.stderr}`);
      assert.match(r.stdout, /^1000\napp 1000 /, `${engine} ${name}`);
      seen.push(r.stdout);
    }
    assert.equal(seen[1], seen[0], `${engine}: the squashfs format shows what the folder format shows`);
  }
  // As root (the image's files are root's in both), without link counts (the folder store hard-links the
  // base image's files) and times (the stored trees keep the build's own; the layers' are clamped).
  const listing = LISTING.replace("etc |", "etc data |");
  const plain = (out: string) =>
    out.replace(/^(\S+) +\d+ /gm, "$1 ").replace(/ [A-Z][a-z]{2} +\d+ +(\d\d:\d\d|\d{4}) /g, " DATE ");
  const asRoot = ["run", "-u", "0", "built:1", "sh", "-c", listing];
  const fromDir = await runBurrow(asRoot, { home: dirHome, env: dirEnv() });
  const fromSq = await runBurrow(asRoot, { home: sqHome, env: sqEnv() });
  assert.equal(fromDir.code, 0, fromDir.stderr);
  assert.match(fromDir.stdout, /\ndata:.*\n.* note\.txt\n.* x\n/);
  assert.equal(
    plain(fromSq.stdout),
    plain(fromDir.stdout),
    "types, modes, owners, sizes, link targets match",
  );
});

/**
 * Pulls the image into `home` in squashfs format, with a node-local folder of its own; returns the run
 * environment and the stored file, made writable for the test to spoil it.
 */
async function pullToSpoil(home: TestHome) {
  const env = { ...sqEnv(), BURROW_TMPDIR: path.join(home.dir, "node-tmp") };
  fs.mkdirSync(env.BURROW_TMPDIR, { mode: 0o700 });
  await chownToTestUser(env.BURROW_TMPDIR);
  const pulled = await runBurrow(["pull", ref], { home, env });
  assert.equal(pulled.code, 0, pulled.stderr);
  const dir = path.join(home.burrowDir, "images");
  const file = fs
    .readdirSync(dir)
    .map((id) => path.join(dir, id, "rootfs.sqfs"))
    .find((f) => fs.existsSync(f))!;
  fs.chmodSync(path.dirname(file), 0o755);
  fs.chmodSync(file, 0o644);
  return { env, file };
}

test("a stored SquashFS file with damaged data blocks: unpacking it (proot) fails in one line with 125", async () => {
  const home = await makeTestHome();
  try {
    const { env, file } = await pullToSpoil(home);
    // The middle half of the file (data blocks) flipped; its superblock and tables, and its size, stay.
    const bytes = fs.readFileSync(file);
    for (let i = Math.floor(bytes.length / 4); i < Math.floor((bytes.length * 3) / 4); i++) bytes[i]! ^= 0x5a;
    fs.writeFileSync(file, bytes);
    const r = await runBurrow(["run", "--engine", "proot", ref, "true"], { home, env });
    assert.equal(r.code, 125, r.stderr);
    assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^burrow: the SquashFS file .* is damaged or cut short \(unsquashfs: .*\): make it again/,
    );
    // The node's folder of unpacked images (BURROW_TMPDIR/burrow-sqfs-UID) holds nothing half-unpacked.
    const left = fs
      .readdirSync(env.BURROW_TMPDIR, { recursive: true, encoding: "utf8" })
      .filter((n) => n.includes(path.sep) && !n.split(path.sep).includes("mounts"));
    assert.deepEqual(left, [], "nothing half-unpacked is left on the node");
  } finally {
    await home.cleanup();
  }
});

test("a stored SquashFS file cut short: verify says so, each engine fails in one line with 125", async () => {
  const home = await makeTestHome();
  try {
    const { env, file } = await pullToSpoil(home);
    fs.truncateSync(file, 50_000);
    const v = await runBurrow(["verify", ref], { home, env });
    assert.equal(v.code, 1);
    assert.match(v.stdout, /cut short: its superblock says it uses \d+ bytes, but it has 50000/);
    for (const engine of TEST_ENGINES) {
      const r = await runBurrow(["run", "--engine", engine, ref, "true"], { home, env });
      assert.equal(r.code, 125, `${engine}: ${r.stderr}`);
      assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, `${engine}: ${r.stderr}`);
      assert.match(r.stderr, /failed \(Something went wrong|cut short/, engine);
    }
  } finally {
    await home.cleanup();
  }
});
