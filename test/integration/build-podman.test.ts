// burrow build against podman build (the reference, issue 13): the same Dockerfiles built by both, pushed
// to the plain test registry, pulled back with skopeo and compared (merged file trees and configs, less
// the documented differences); the images burrow built run with every engine; build errors.
import { describe, test, before, after } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { chownToTestUser, makeTestHome, testEnv } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { debianTarball } from "../harness/debian.js";
import { imageRef, layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { DOCKER_PATH, TEST_ENGINES, burrowIn, ok, pushAlpine, show } from "../harness/suite.js";
import { aptInstall, buildCases, writeContext } from "../harness/build-contexts.js";
import type { BuildBases, BuildCase, ContextFile } from "../harness/build-contexts.js";
import { compareImages, describeDifference, describeDifferences } from "../harness/build-compare.js";
import { mergeLayers } from "../harness/image-tree.js";
import type { Tree } from "../harness/image-tree.js";
import { pullToOciLayout } from "../harness/oci-layout.js";
import type { ImageConfig } from "../harness/oci-layout.js";
import { podmanUnavailable, privatePodman } from "../harness/podman.js";
import { removeTree } from "../harness/remove-tree.js";
import { freePort } from "../harness/registry-server.js";

let home: TestHome;
let work: string;
let bases: BuildBases;
let podmanMissing: string | undefined;
let mirrorMissing: string | undefined;
let debianMissing: string | undefined;

const burrow = burrowIn(() => home);
const BUILD_TIMEOUT = 600_000;

/** The Debian mirror the apt case needs, probed once: undefined when reachable, else why not. */
async function probeMirror(): Promise<string | undefined> {
  const url = "http://deb.debian.org/debian/dists/bookworm/InRelease";
  try {
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(8000) });
    return res.ok ? undefined : `the Debian mirror answered HTTP ${res.status} for ${url}`;
  } catch (err) {
    return `the Debian mirror is not reachable (${url}: ${(err as Error).message})`;
  }
}

before(async () => {
  home = await makeTestHome();
  work = await fsp.mkdtemp(path.join(testEnv().tmp, "build-podman-"));
  await fsp.chmod(work, 0o755);
  // What `COPY ../x` would reach from a context in `work`, were it followed out of the context.
  await fsp.writeFile(path.join(work, "x"), "outside the context\n");
  podmanMissing = await podmanUnavailable();
  mirrorMissing = await probeMirror();
  const alpine = await pushAlpine("build-alpine");
  let debian = "";
  try {
    const layer = await layerFromTarball(debianTarball());
    const pushed = await pushImage("plain", uniqueRepo("build-debian"), "bookworm", [layer], {
      format: "docker",
      config: { Cmd: ["bash"], Env: [`PATH=${DOCKER_PATH}`] },
    });
    debian = pushed.ref;
  } catch (err) {
    // The harness could not make it (debootstrap needs root, or failed): the Debian cases fail with its reason.
    debianMissing = (err as Error).message;
  }
  bases = { debian, alpine: alpine.ref };
});

/**
 * Why case `c` is skipped here, or undefined: the Debian mirror out of reach (apt), or Podman for a run
 * that is not root (it builds as root). What a root run of the harness provides, the Debian image and
 * Podman, is never skipped: without it the case fails with the reason.
 */
function missingFor(c: BuildCase, needsPodman: boolean): string | undefined {
  if (c.needsDebian && debianMissing)
    throw new Error(`this case needs the Debian test image: ${debianMissing}`);
  if (c.name === "apt" && mirrorMissing) return mirrorMissing;
  if (!needsPodman || podmanMissing === undefined) return undefined;
  if (process.getuid?.() === 0) throw new Error(`this case compares with Podman: ${podmanMissing}`);
  return podmanMissing;
}

after(async () => {
  await home?.cleanup();
  if (work) await removeTree(work);
});

/** Writes a context (readable by the test user, and by root's Podman) into a new folder under `work`. */
async function context(name: string, files: Record<string, ContextFile>): Promise<string> {
  const dir = await fsp.mkdtemp(path.join(work, `${name}-`));
  await writeContext(dir, files);
  await chownToTestUser(dir);
  return dir;
}

/** An image pulled back from the plain registry: its merged tree and its config. */
interface PulledImage {
  tree: Tree;
  config: ImageConfig;
}

/** skopeo copy of plain/REPO:1 into an OCI layout, then its merged tree. */
async function pullBack(repo: string): Promise<PulledImage> {
  const dir = path.join(work, `oci-${repo}`);
  const img = await pullToOciLayout("plain", repo, "1", dir);
  try {
    return { tree: await mergeLayers(img.layers), config: img.config };
  } finally {
    await removeTree(dir);
  }
}

/** `burrow build` of a case, once per case (the comparison and the engine runs share it). */
const burrowBuilds = new Map<string, Promise<{ ref: string; repo: string; dir: string }>>();

function burrowBuild(c: BuildCase): Promise<{ ref: string; repo: string; dir: string }> {
  let p = burrowBuilds.get(c.name);
  if (!p) {
    p = (async () => {
      const dir = await context(c.name, c.files);
      const repo = uniqueRepo(`built-${c.name}`);
      const ref = imageRef("plain", repo, "1");
      const args = [
        "build",
        "-t",
        ref,
        ...buildArgFlags(c),
        ...(c.target ? ["--target", c.target] : []),
        dir,
      ];
      const r = await burrow(args, { timeoutMs: BUILD_TIMEOUT });
      assert.equal(r.code, 0, `burrow ${args.join(" ")}:\n${show(r)}`);
      return { ref, repo, dir };
    })();
    burrowBuilds.set(c.name, p);
  }
  return p;
}

const buildArgFlags = (c: BuildCase): string[] =>
  Object.entries(c.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]);

/** True when the test user has subordinate ids (then RUN steps can record the owners they give). */
function testUserHasSubids(): boolean {
  const name = testEnv().user.name;
  if (!name) return false;
  const has = (file: string): boolean => {
    try {
      return fs
        .readFileSync(file, "utf8")
        .split("\n")
        .some((l) => l.split(":")[0] === name);
    } catch {
      return false;
    }
  };
  return has("/etc/subuid") && has("/etc/subgid");
}

/** Builds `c` with Podman and with burrow, pushes both, pulls both back and compares them. */
async function compareCase(t: TestContext, c: BuildCase): Promise<void> {
  const missing = missingFor(c, true);
  if (missing) return t.skip(missing);
  const podmanRepo = uniqueRepo(`podman-${c.name}`);
  const podmanRef = imageRef("plain", podmanRepo, "1");
  const pm = await privatePodman();
  try {
    const dir = await context(`podman-${c.name}`, c.files);
    await pm.build(dir, podmanRef, {
      ...(c.buildArgs ? { buildArgs: c.buildArgs } : {}),
      ...(c.target ? { target: c.target } : {}),
    });
    await pm.push(podmanRef);
  } finally {
    await pm.remove();
  }
  const built = await burrowBuild(c);
  ok(await burrow(["push", built.ref], { timeoutMs: 300_000 }));
  const [podman, mine] = [await pullBack(podmanRepo), await pullBack(built.repo)];
  const leaked = (c.absent ?? []).filter((p) => mine.tree.has(p));
  assert.deepEqual(leaked, [], `${c.name}: burrow's image has what the context excludes`);
  const lost = (c.present ?? []).filter((p) => !mine.tree.has(p));
  assert.deepEqual(lost, [], `${c.name}: burrow's image lacks what the context has`);
  const r = compareImages(podman, mine);
  for (const { difference, by } of r.documented)
    t.diagnostic(`documented (${by.id}): ${describeDifference(difference)}`);
  assert.equal(
    r.unexpected.length,
    0,
    `${c.name}: burrow's image differs from podman's (podman | burrow) in ${r.unexpected.length} places:\n` +
      describeDifferences(r.unexpected),
  );
  // Owners of files a RUN made: kept apart so that it is clear where burrow records other owners.
  const owners = `${c.name}: the owners of ${r.runOwners.length} files a RUN made differ (podman | burrow):\n${describeDifferences(r.runOwners)}`;
  if (r.runOwners.length > 0 && !testUserHasSubids())
    t.diagnostic(
      `${owners}\n(the test user has no subordinate ids: burrow records root instead, as documented)`,
    );
  else assert.equal(r.runOwners.length, 0, owners);
}

/** Every case, in order, with the bases `before` pushed (the apt case last). */
const allCases = (): BuildCase[] => [...buildCases(bases), aptInstall(bases)];
// Tests are declared before `before` has pushed the bases: named from the list with stand-in names.
const caseNames = [...buildCases({ debian: "D", alpine: "A" }), aptInstall({ debian: "D", alpine: "A" })];

describe("burrow build makes what podman build makes", () => {
  for (const [i, named] of caseNames.entries()) {
    test(`${named.name}: ${named.covers}`, { timeout: 2 * BUILD_TIMEOUT }, (t) =>
      compareCase(t, allCases()[i]!),
    );
  }
});

for (const engine of TEST_ENGINES) {
  describe(`images burrow built run with --engine ${engine}`, () => {
    for (const [i, named] of caseNames.entries()) {
      if (named.output === undefined) continue;
      test(
        `${named.name}: ENTRYPOINT and CMD give what the Dockerfile says`,
        { timeout: BUILD_TIMEOUT },
        async (t) => {
          const c = allCases()[i]!;
          const missing = missingFor(c, false);
          if (missing) return t.skip(missing);
          const { ref } = await burrowBuild(c);
          assert.equal(ok(await burrow(["run", "--engine", engine, ref], { timeoutMs: 120_000 })), c.output);
        },
      );
    }
    test(
      "debian-user: the USER the Dockerfile names runs the program, in its WORKDIR",
      { timeout: BUILD_TIMEOUT },
      async (t) => {
        const c = allCases().find((x) => x.name === "debian-user")!;
        const missing = missingFor(c, false);
        if (missing) return t.skip(missing);
        const { ref } = await burrowBuild(c);
        const script = 'id -un; id -gn; pwd; ls -ld /app/data | cut -d" " -f3,4';
        const r = await burrow(["run", "--engine", engine, "--entrypoint", "sh", ref, "-c", script], {
          timeoutMs: 120_000,
        });
        assert.equal(ok(r), "app\napp\n/app\napp app\n");
      },
    );
  });
}

/** Asserts a failed build: `status`, the last stderr line matching `message`, nothing under the tag. */
async function buildFails(
  r: BurrowResult,
  tag: string,
  status: number,
  message: RegExp,
  oneLine: boolean,
): Promise<void> {
  assert.equal(r.code, status, `burrow ${r.args.join(" ")}: ${show(r)}`);
  // Where the user has no subordinate ids, burrow says so in one warning line first (issue 13): not the error.
  const lines = r.stderr
    .trim()
    .split("\n")
    .filter((l) => !/subordinate ids/.test(l));
  if (oneLine) assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines.at(-1) ?? "", message, `the last line on stderr:\n${r.stderr}`);
  const inspect = await burrow(["inspect", tag]);
  assert.notEqual(inspect.code, 0, `nothing half-built is under ${tag}: ${show(inspect)}`);
}

describe("burrow build refuses bad input with one clear line", () => {
  const fails = async (
    files: Record<string, ContextFile>,
    extra: string[] = [],
  ): Promise<[BurrowResult, string]> => {
    const dir = await context("bad", files);
    const tag = `bad-${path.basename(dir).toLowerCase()}:1`;
    return [await burrow(["build", "-t", tag, ...extra, dir], { timeoutMs: BUILD_TIMEOUT }), tag];
  };

  test("a syntax error: status 125, the line named", async () => {
    const [r, tag] = await fails({ Dockerfile: `FROM ${bases.alpine}\n\nRUNN echo hi\nCMD ["sh"]\n` });
    await buildFails(r, tag, 125, /\b3\b.*RUNN|RUNN.*\b3\b/i, true);
  });

  test("a COPY source that is not in the context: status 125, the source named", async () => {
    const [r, tag] = await fails({
      Dockerfile: `FROM ${bases.alpine}\nCOPY not-there.txt /x\n`,
      "a.txt": "a\n",
    });
    await buildFails(r, tag, 125, /not-there\.txt/, false);
  });

  test("COPY ../x (a path out of the context): status 125, refused", async () => {
    const [r, tag] = await fails({ Dockerfile: `FROM ${bases.alpine}\nCOPY ../x /x\n` });
    await buildFails(r, tag, 125, /\.\.\/x/, false);
  });

  test("a failing RUN: status 1 (as docker), the step and its status named", async () => {
    const [r, tag] = await fails({
      Dockerfile: `FROM ${bases.alpine}\nRUN echo before-the-failure && exit 3\nCMD ["sh"]\n`,
    });
    await buildFails(r, tag, 1, /exit 3.*\bstatus 3\b/, false);
    assert.match(r.stderr, /before-the-failure/, "the step's output is shown");
  });

  test("an unreachable base image: status 125, the base and its registry named", async () => {
    // A loopback port nothing listens on (freePort closes what it bound), and a host name that is never resolved.
    for (const base of [`127.0.0.1:${await freePort()}/lab/base:1`, "nosuchhost.invalid/lab/base:1"]) {
      const [r, tag] = await fails({ Dockerfile: `FROM ${base}\nRUN true\n` });
      await buildFails(
        r,
        tag,
        125,
        new RegExp(`line 1: FROM ${base.replace(/[.]/g, "\\.")}: cannot reach`),
        false,
      );
      // Its progress line, then the error: nothing else.
      assert.deepEqual(r.stderr.trim().split("\n").slice(0, -1), [`STEP 1/2: FROM ${base}`], r.stderr);
    }
  });

  test("an unknown --target: status 125, the stage named", async () => {
    const [r, tag] = await fails(
      { Dockerfile: `FROM ${bases.alpine} AS base\nRUN true\nFROM base AS app\nCMD ["sh"]\n` },
      ["--target", "nosuch"],
    );
    await buildFails(r, tag, 125, /nosuch/, true);
  });
});
