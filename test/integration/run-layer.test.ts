// The writable layer of ephemeral runs without overlay: a private copy, discarded, the image untouched.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { testEnv, runBurrow, makeTestHome } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { describeTree } from "./tree.js";

let home: TestHome;
let ref = "";
const env = () => ({ BURROW_INSECURE_REGISTRIES: testEnv().registries.plain.host, BURROW_LAYER: "copy" });

before(async () => {
  home = await makeTestHome();
  const pushed = await pushImage(
    "plain",
    uniqueRepo("layer"),
    "1",
    [await layerFromTarball(testEnv().alpine)],
    {
      config: { Cmd: ["/bin/sh"] },
    },
  );
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
