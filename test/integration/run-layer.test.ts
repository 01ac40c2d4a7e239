// The writable layer of ephemeral runs without overlay: a private copy, discarded, the image untouched.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { runBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, plainRegistryEnv } from "../harness/suite.js";
import { describeTree } from "./tree.js";

let home: TestHome;
let ref = "";
const env = () => ({ ...plainRegistryEnv(), BURROW_LAYER: "copy" });

before(async () => {
  home = await makeTestHome();
  const pushed = await pushImage("plain", uniqueRepo("layer"), "1", [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"] },
  });
  ref = pushed.ref;
  const r = await runBurrow(["pull", ref], { home, env: env() });
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await home.cleanup();
});

test("BURROW_LAYER=copy: writes go to a private copy that is gone after the run", async () => {
  const rootfs = (await runBurrow(["inspect", "-p", ref], { home })).stdout.trim();
  const before_ = describeTree(rootfs);
  const w = await runBurrow(
    ["run", ref, "sh", "-c", "echo x > /etc/written && rm /etc/motd && cat /etc/written"],
    {
      home,
      env: env(),
    },
  );
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "x\n");
  const r = await runBurrow(
    ["run", ref, "sh", "-c", "test -e /etc/written; echo $?; test -e /etc/motd; echo $?"],
    {
      home,
      env: env(),
    },
  );
  assert.equal(r.stdout, "1\n0\n");
  const mounts = await runBurrow(["run", ref, "cat", "/proc/mounts"], { home, env: env() });
  const rootLine = mounts.stdout.split("\n").find((l) => l.split(" ")[1] === "/");
  assert.ok(
    rootLine && !rootLine.startsWith("overlay "),
    `the root is the copy, not an overlay: ${rootLine}`,
  );
  const auto = await runBurrow(["run", ref, "cat", "/proc/mounts"], {
    home,
    env: { ...env(), BURROW_LAYER: "auto" },
  });
  assert.match(auto.stdout, /^overlay \/ overlay /m, "where the kernel allows it, the layer is an overlay");
  assert.deepEqual(describeTree(rootfs), before_, "the image rootfs is unchanged");
  const tmp = path.join(home.burrowDir, "tmp");
  const left = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith("burrow-run-")) : [];
  assert.deepEqual(left, [], "the private copy was removed");
});

test("a bad BURROW_LAYER is burrow's failure with one line", async () => {
  const r = await runBurrow(["run", ref, "true"], { home, env: { ...env(), BURROW_LAYER: "zfs" } });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /BURROW_LAYER/);
});

/** The pids of fuse-overlayfs processes whose command line names a path under `dir`. */
function fuseServersOf(dir: string): number[] {
  const pids: number[] = [];
  for (const pid of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (path.basename(argv[0] ?? "") === "fuse-overlayfs" && argv.some((a) => a.includes(dir)))
        pids.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

test("BURROW_LAYER=fuse: fuse-overlayfs gives the private layer where the kernel's overlay cannot", async () => {
  // fuse-overlayfs needs /dev/fuse open to the user: the harness opens it for the run (test/harness/run.ts).
  const rootfs = (await runBurrow(["inspect", "-p", ref], { home })).stdout.trim();
  const before_ = describeTree(rootfs);
  const fuse = { ...env(), BURROW_LAYER: "fuse" };
  const w = await runBurrow(
    [
      "run",
      ref,
      "sh",
      "-c",
      "grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1; echo x > /etc/written && rm /etc/motd && cat /etc/written",
    ],
    { home, env: fuse },
  );
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "fuse.fuse-overlayfs\nx\n");
  assert.equal(w.stderr, "", "fuse-overlayfs's own chatter is not shown");
  const r = await runBurrow(
    ["run", ref, "sh", "-c", "test -e /etc/written; echo $?; test -e /etc/motd; echo $?"],
    { home, env: fuse },
  );
  assert.equal(r.stdout, "1\n0\n", "the next run starts from the image again");
  assert.deepEqual(describeTree(rootfs), before_, "the image rootfs is unchanged");
  const tmp = path.join(home.burrowDir, "tmp");
  const left = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith("burrow-run-")) : [];
  assert.deepEqual(left, [], "the layer was removed");
  assert.deepEqual(fuseServersOf(home.burrowDir), [], "no fuse-overlayfs server is left after a run");
  // The server dies with the container, also when the program is killed.
  const killed = await runBurrow(["run", ref, "sh", "-c", "echo x > /etc/written; kill -9 $$"], {
    home,
    env: fuse,
  });
  assert.equal(killed.code, 137, killed.stderr);
  assert.deepEqual(fuseServersOf(home.burrowDir), [], "no fuse-overlayfs server is left");
  const left2 = fs.existsSync(tmp) ? fs.readdirSync(tmp).filter((n) => n.startsWith("burrow-run-")) : [];
  assert.deepEqual(left2, [], "the layer of the killed run was removed");
  // --nosysdirs leaves /proc out, which fuse-overlayfs's server needs: such a run gets the copy.
  const nosys = await runBurrow(["run", "--nosysdirs", ref, "cat", "/etc/alpine-release"], {
    home,
    env: fuse,
  });
  assert.equal(nosys.code, 0, nosys.stderr);
});

test("BURROW_LAYER=fuse without a usable fuse-overlayfs is one clear line", async () => {
  const r = await runBurrow(["run", ref, "true"], {
    home,
    env: { ...env(), BURROW_LAYER: "fuse", BURROW_FUSE_OVERLAYFS: "/nonexistent/fuse-overlayfs" },
  });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^burrow: BURROW_LAYER=fuse: .*fuse-overlayfs/);
});
