// Links a container made, and paths an image names, never lead burrow's host-side work out of the root:
// a named container that replaced /etc, its files, apt's folder or the working directory's parent with
// links to host paths is run again on every engine and layer mode; images whose WorkingDir climbs out
// with `..` or goes through a link to a host folder are run. The host is checked after each.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { chownToTestUser, makeTestHome } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { layerFromEntries, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { alpineLayer, burrowIn, DOCKER_PATH, ok, show, TEST_ENGINES } from "../harness/suite.js";
import { describeTree } from "./tree.js";

let home: TestHome;
/** A folder the test user can write, holding files a followed link would clobber. */
let victim: string;
/** A 0700 folder holding a 0600 secret: readable by the user, never by the container. */
let vault: string;
const SECRET = `SECRET-${randomBytes(8).toString("hex")}`;
let victimBefore: string[];
let vaultBefore: string[];
let homeBefore: string[];
/** Alpine with /work (but no /work/dir, its WorkingDir) and apt's /etc/apt/apt.conf.d. */
let image = "";
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
  victim = path.join(home.dir, "victim");
  vault = path.join(home.dir, "vault");
  fs.mkdirSync(victim);
  for (const f of ["sentinel", "hosts", "passwd", "group", "resolv.conf", "00burrow-sandbox"])
    fs.writeFileSync(path.join(victim, f), `precious ${f}\n`);
  fs.mkdirSync(vault, { mode: 0o700 });
  fs.writeFileSync(path.join(vault, "secret"), `${SECRET}\n`, { mode: 0o600 });
  await chownToTestUser(victim);
  await chownToTestUser(vault);
  fs.chmodSync(vault, 0o700);
  const extra = await layerFromEntries([
    { path: "work/", type: "dir" },
    { path: "etc/apt/", type: "dir" },
    { path: "etc/apt/apt.conf.d/", type: "dir" },
  ]);
  ({ ref: image } = await pushImage("plain", uniqueRepo("links"), "1", [await alpineLayer(), extra], {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`], WorkingDir: "/work/dir" },
  }));
  ok(await burrow(["pull", image]));
  victimBefore = describeTree(victim);
  vaultBefore = describeTree(vault);
  homeBefore = fs.readdirSync(home.dir).sort();
});
after(async () => {
  await home.cleanup();
});

/** The host after an attack: the victim's files byte-identical, nothing made beside them, no secret out. */
function assertHostIntact(what: string, ...outputs: BurrowResult[]): void {
  assert.deepEqual(describeTree(victim), victimBefore, `${what}: the host folder changed`);
  assert.deepEqual(describeTree(vault), vaultBefore, `${what}: the 0700 folder changed`);
  assert.deepEqual(
    fs.readdirSync(home.dir).sort(),
    [...new Set([...homeBefore, "store"])].sort(),
    `${what}: something was made in the home`,
  );
  const tmp = path.join(home.burrowDir, "tmp");
  if (fs.existsSync(tmp)) {
    const odd = fs.readdirSync(tmp).filter((n) => ["x", "work", "dir", "made", "sub"].includes(n));
    assert.deepEqual(odd, [], `${what}: a folder was made in the store's tmp/`);
  }
  for (const r of outputs)
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${what}: ${show(r)}`);
}

/** A run that either works or is burrow's own failure in one line: never a crash, never an escape. */
function cleanOutcome(r: BurrowResult, what: string): void {
  if (r.code === 0) return;
  assert.equal(r.code, 125, `${what}: ${show(r)}`);
  assert.equal(r.stderr.trim().split("\n").length, 1, `${what}: one line\n${show(r)}`);
  assert.doesNotMatch(r.stderr, /internal error/, `${what}: ${show(r)}`);
}

/** The combinations: engine that makes the container, engine that runs it again, layer mode. */
interface Mode {
  label: string;
  make: string;
  again: string;
  layer: "overlay" | "copy";
}
const modes: Mode[] = [];
for (const engine of TEST_ENGINES) {
  if (engine !== "proot")
    modes.push({ label: `${engine}, overlay layer`, make: engine, again: engine, layer: "overlay" });
  modes.push({ label: `${engine}, copy layer`, make: engine, again: engine, layer: "copy" });
}
if (TEST_ENGINES.includes("proot") && TEST_ENGINES.includes("userns"))
  modes.push({
    label: "userns overlay layer, run again by proot",
    make: "userns",
    again: "proot",
    layer: "overlay",
  });

/** One change a container makes to its own root: remove a path, or make a link at it. */
type Plant = { rm: string } | { link: string; to: string };

/** What each container plants in its writable layer (host paths as link targets). */
const plants = (): Record<string, Plant[]> => ({
  "/etc and the working directory's parent replaced by links to a host folder": [
    { rm: "/etc" },
    { link: "/etc", to: victim },
    { rm: "/work" },
    { link: "/work", to: victim },
  ],
  "/etc's files and apt's folder replaced by links to host files": [
    { link: "/etc/hosts", to: `${victim}/hosts` },
    { link: "/etc/resolv.conf", to: `${victim}/resolv.conf` },
    { link: "/etc/passwd", to: `${vault}/secret` },
    { link: "/etc/group", to: `${vault}/secret` },
    { rm: "/etc/apt/apt.conf.d" },
    { link: "/etc/apt/apt.conf.d", to: victim },
  ],
  "/etc/apt and /work replaced by relative links climbing out with ..": [
    { rm: "/etc/apt" },
    { link: "/etc/apt", to: `../../../../../../../..${victim}` },
    { rm: "/work" },
    { link: "/work", to: `../../../../../../../..${vault}` },
  ],
});

/**
 * Plants the changes: from inside the container where its layer is an overlay (a run of its own), else
 * (a copy layer, where burrow binds its generated files and the container cannot replace them while it
 * runs) straight into its rootfs, as the test user, as a container could have left them.
 */
async function plant(name: string, mode: Mode, changes: Plant[], env: Record<string, string>): Promise<void> {
  const script = changes
    .map((c) => ("rm" in c ? `rm -rf ${c.rm}` : `ln -sfn ${c.to} ${c.link}`))
    .join(" && ");
  if (mode.layer === "overlay") {
    ok(
      await burrow(["run", "--engine", mode.make, "--name", name, "-w", "/", image, "sh", "-c", script], {
        env,
      }),
    );
    return;
  }
  ok(await burrow(["create", "--name", name, image], { env }));
  const containers = path.join(home.burrowDir, "containers");
  const id = fs
    .readdirSync(containers)
    .find((d) => fs.readFileSync(path.join(containers, d, "container.json"), "utf8").includes(`"${name}"`));
  assert.ok(id, `container ${name} in the store`);
  const rootfs = path.join(containers, id, "rootfs");
  assert.ok(fs.statSync(rootfs).isDirectory(), `container ${name} has a copy layer`);
  for (const c of changes) {
    if ("rm" in c) fs.rmSync(path.join(rootfs, c.rm), { recursive: true, force: true });
    else {
      fs.rmSync(path.join(rootfs, c.link), { force: true });
      fs.symlinkSync(c.to, path.join(rootfs, c.link));
      await chownToTestUser(path.join(rootfs, c.link));
    }
  }
}

for (const mode of modes) {
  describe(`a named container's links to host paths (${mode.label})`, () => {
    let n = 0;
    for (const attack of Object.keys(plants())) {
      test(attack, async () => {
        const name = `links-${mode.make}-${mode.again}-${mode.layer}-${++n}`;
        const env: Record<string, string> = mode.layer === "copy" ? { BURROW_LAYER: "copy" } : {};
        await plant(name, mode, plants()[attack]!, env);
        assertHostIntact(`${attack}: planting`);
        const show_ = "cat /etc/hosts /etc/resolv.conf /etc/passwd /etc/group 2>/dev/null; true";
        const asRoot = await burrow(["run", "--engine", mode.again, "-w", "/", name, "sh", "-c", show_], {
          env,
        });
        cleanOutcome(asRoot, `${attack}: run as root`);
        assertHostIntact(`${attack}: run as root`, asRoot);
        const asOther = await burrow(
          ["run", "--engine", mode.again, "-u", "4321:4321", "-w", "/", name, "sh", "-c", show_],
          { env },
        );
        cleanOutcome(asOther, `${attack}: run with a uid the image lacks`);
        assertHostIntact(`${attack}: run with a uid the image lacks`, asOther);
        const inWorkdir = await burrow(["run", "--engine", mode.again, name, "pwd"], { env });
        cleanOutcome(inWorkdir, `${attack}: run in the WorkingDir`);
        assertHostIntact(`${attack}: run in the WorkingDir`, inWorkdir);
        ok(await burrow(["rm", "-f", name]));
      });
    }
  });
}

/** Images whose WorkingDir leaves the root: each is run (unnamed) on every engine and layer mode. */
describe("WorkingDir from an image stays inside the root", () => {
  // Functions of the victim's path, which is known once the home is made.
  const cases: {
    label: string;
    workdir: () => string;
    links?: () => [string, string][];
    pwd: () => string;
  }[] = [
    { label: "/../../x", workdir: () => "/../../x", pwd: () => "/x" },
    { label: "/a/../../..", workdir: () => "/a/../../..", pwd: () => "/" },
    {
      label: "`..` up to a host folder",
      workdir: () => `/../../../../../../../../../../../..${victim}/made`,
      pwd: () => `${victim}/made`,
    },
    {
      label: "through an image link to a host folder",
      workdir: () => "/w/sub",
      links: () => [["w", victim]],
      pwd: () => `${victim}/sub`,
    },
    {
      label: "through a relative image link climbing out",
      workdir: () => "/w/sub",
      links: () => [["w", `../../../../../../../..${victim}`]],
      pwd: () => `${victim}/sub`,
    },
  ];
  const runs: { label: string; engine: string; env: Record<string, string> }[] = [];
  for (const engine of TEST_ENGINES) {
    if (engine !== "proot") runs.push({ label: `${engine}, overlay`, engine, env: {} });
    runs.push({ label: `${engine}, copy`, engine, env: { BURROW_LAYER: "copy" } });
  }
  for (const c of cases) {
    test(`WorkingDir ${c.label}: resolved inside the root, nothing made on the host`, async () => {
      const layers = [await alpineLayer()];
      if (c.links)
        layers.push(
          await layerFromEntries(c.links().map(([p, to]) => ({ path: p, type: "symlink", linkname: to }))),
        );
      const { ref } = await pushImage("plain", uniqueRepo("workdir"), "1", layers, {
        config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`], WorkingDir: c.workdir() },
      });
      ok(await burrow(["pull", ref]));
      for (const r of runs) {
        const out = await burrow(["run", "--engine", r.engine, ref, "pwd"], { env: r.env });
        assert.equal(out.code, 0, `${r.label}: ${show(out)}`);
        assert.equal(out.stdout, `${c.pwd()}\n`, `${r.label}: the working directory`);
        assertHostIntact(`WorkingDir ${c.label}, ${r.label}`, out);
        assert.ok(!fs.existsSync("/x") && !fs.existsSync(path.join(home.dir, "x")), `${r.label}: /x made`);
      }
    });
  }
});

/** `--tmpfs` and `--mount` targets through an image's links to host folders are mounted inside the root. */
test("--tmpfs and --mount targets through an image's links to a host folder: inside the root, nothing on the host", async () => {
  const layers = [
    await alpineLayer(),
    await layerFromEntries([
      { path: "abs", type: "symlink", linkname: victim },
      { path: "rel", type: "symlink", linkname: `../../../../../../../..${victim}` },
    ]),
  ];
  const { ref } = await pushImage("plain", uniqueRepo("mountlinks"), "1", layers, {
    config: { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] },
  });
  ok(await burrow(["pull", ref]));
  // Outside the home, which the checks below watch.
  const source = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-mount-source-"));
  after(() => fs.rmSync(source, { recursive: true, force: true }));
  fs.writeFileSync(path.join(source, "in"), "bound\n");
  await chownToTestUser(source);
  const flags = (link: string) => [
    "--tmpfs",
    `/${link}/t:exec`,
    "--mount",
    `type=tmpfs,target=/${link}/m`,
    "--mount",
    `type=bind,source=${source},target=/${link}/b`,
  ];
  const script = `echo t > ${victim}/t/f && echo m > ${victim}/m/f && cat ${victim}/t/f ${victim}/m/f ${victim}/b/in`;
  for (const engine of TEST_ENGINES) {
    for (const env of engine === "proot" ? [{}] : [{}, { BURROW_LAYER: "copy" }]) {
      const label = `${engine}${"BURROW_LAYER" in env ? ", copy" : ""}`;
      // An absolute link resolves inside the root: the mounts are there.
      const out = await burrow(["run", "--engine", engine, ...flags("abs"), ref, "sh", "-c", script], {
        env,
      });
      assert.equal(out.code, 0, `${label}: ${show(out)}`);
      assert.equal(out.stdout, "t\nm\nbound\n", `${label}: the mounts at the links' targets inside the root`);
      assertHostIntact(`--tmpfs and --mount through an absolute link, ${label}`, out);
      // A relative one climbing out: mounted inside, or refused in one line (the userns helper refuses it).
      const rel = await burrow(["run", "--engine", engine, ...flags("rel"), ref, "sh", "-c", script], {
        env,
      });
      cleanOutcome(rel, `--tmpfs and --mount through a link climbing out, ${label}`);
      assertHostIntact(`--tmpfs and --mount through a link climbing out, ${label}`, rel);
      assert.deepEqual(fs.readdirSync(source), ["in"], `${label}: the bind's source took no writes`);
      assert.ok(
        !fs.readFileSync("/proc/self/mountinfo", "utf8").includes(victim),
        `${label}: a mount on the host`,
      );
    }
  }
});
