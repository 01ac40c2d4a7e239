// Read-only site stores (BURROW_STORES, issue 14): a store another user made with the usual commands,
// searched before the user's own, its images run in place on every engine, and never changed by a user's
// burrow: rmi is refused with one line, writing into it is refused, and its files stay as they were.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { runBurrow, makeTestHome, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, plainRegistryEnv, TEST_ENGINES } from "../harness/suite.js";
import { describeTree } from "./tree.js";

let home: TestHome;
let site = "";
let ref = "";
/** The site store's tree (names, types, contents) as its owner left it. */
let siteTree: string[] = [];
const env = () => ({
  ...plainRegistryEnv(),
  BURROW_STORES: site,
  BURROW_TMPDIR: path.join(home.dir, "node-tmp"),
});

/** burrow as the harness's own user (root in CI): the site store's owner, another user than the test user. */
function asOwner(args: string[], extra: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [testEnv().cli, "--repo", site, ...args], {
    env: { ...process.env, ...plainRegistryEnv(), ...extra },
    encoding: "utf8",
  });
}

before(async () => {
  home = await makeTestHome();
  fs.mkdirSync(path.join(home.dir, "node-tmp"), { mode: 0o700 });
  if (process.getuid?.() === 0)
    fs.chownSync(path.join(home.dir, "node-tmp"), testEnv().user.uid, testEnv().user.gid);
  site = fs.mkdtempSync(path.join(testEnv().tmp, "site-"));
  const pushed = await pushImage("plain", uniqueRepo("site"), "1", [await alpineLayer()], {
    config: { Cmd: ["/bin/sh"], WorkingDir: "/work" },
  });
  ref = pushed.ref;
  // The owner makes the site store with the usual commands, in the squashfs format, and opens it to all.
  asOwner(["pull", "-q", ref], { BURROW_IMAGE_FORMAT: "squashfs" });
  asOwner(["tag", ref, "site/tool:1"]);
  execFileSync("chmod", ["-R", "a+rX", site]);
  siteTree = describeTree(site);
});
after(async () => {
  await home.cleanup();
  fs.rmSync(site, { recursive: true, force: true });
});

test("images lists the site store's images with where they live", async () => {
  const r = await runBurrow(["images"], { home, env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +STORE\n/);
  assert.match(r.stdout, new RegExp(`^site/tool +1 +[a-f0-9]{12} .* ${site}$`, "m"));
  const json = await runBurrow(["images", "--format", "json"], { home, env: env() });
  const list = JSON.parse(json.stdout) as { names: string[]; store: string; format: string }[];
  const tool = list.find((i) => i.names.includes("docker.io/site/tool:1"));
  assert.equal(tool?.store, site);
  assert.equal(tool?.format, "squashfs");
  const plain = await runBurrow(["images"], { home, env: plainRegistryEnv() });
  assert.doesNotMatch(plain.stdout, /STORE/, "without site stores, docker's five columns");
});

for (const engine of TEST_ENGINES) {
  test(`engine ${engine} runs a site store's image in place, without pulling`, async () => {
    const r = await runBurrow(
      [
        "run",
        "--pull",
        "never",
        "--engine",
        engine,
        "site/tool:1",
        "sh",
        "-c",
        "cat /etc/alpine-release; pwd; echo w > /w && cat /w",
      ],
      { home, env: env() },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "3.20.3\n/work\nw\n");
    const own = path.join(home.burrowDir, "images");
    const mine = fs.existsSync(own) ? fs.readdirSync(own).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
    assert.deepEqual(mine, [], "nothing was pulled into the user's own store");
  });
}

test("a user cannot delete or overwrite a site image: one line each, and the site store is unchanged", async () => {
  const rmi = await runBurrow(["rmi", "site/tool:1"], { home, env: env() });
  assert.equal(rmi.code, 1);
  assert.equal(rmi.stderr.trim().split("\n").length, 1, rmi.stderr);
  assert.match(rmi.stderr, /^burrow: image site\/tool:1 is in the site store .*, which burrow never changes/);
  if (process.getuid?.() === 0) {
    // Through --repo the site store is another user's store: refused before anything is written.
    for (const args of [
      ["rmi", "site/tool:1"],
      ["tag", "site/tool:1", "site/tool:2"],
      ["pull", ref],
    ]) {
      const r = await runBurrow(["--repo", site, ...args], { home, env: plainRegistryEnv() });
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^burrow: refusing the store .*: it belongs to uid 0, not to you/);
    }
  }
  const still = await runBurrow(["run", "site/tool:1", "true"], { home, env: env() });
  assert.equal(still.code, 0, still.stderr);
  assert.deepEqual(
    describeTree(site),
    siteTree,
    "nothing in the site store was written, locked, held or removed",
  );
});

test("a site store that does not exist, or that the user cannot read, is passed over in one line", async () => {
  const closed = fs.mkdtempSync(path.join(testEnv().tmp, "closed-site-"));
  fs.chmodSync(closed, 0o700); // root's, closed to the test user
  try {
    for (const [stores, why] of [
      [`${path.join(home.dir, "no-such-store")}:${site}`, "does not exist"],
      [`${closed}:${site}`, "cannot be read by you"],
    ] as const) {
      const r = await runBurrow(["run", "--pull", "never", "site/tool:1", "cat", "/etc/alpine-release"], {
        home,
        env: { ...env(), BURROW_STORES: stores },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/, "the next site store is searched");
      assert.equal(r.stderr.split("\n").filter((l) => l !== "").length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^burrow: warning: the site store .* ${why}: it is passed over`));
    }
  } finally {
    fs.rmSync(closed, { recursive: true, force: true });
  }
});
