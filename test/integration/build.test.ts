// burrow build as a user sees it beyond the Podman comparison (build-podman.test): the cache (an unchanged
// rebuild, one edited file, --no-cache, after rmi), the owners RUN and COPY give, an interrupted build,
// ONBUILD triggers, a failing RUN, history, and the store left clean.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { makeTestHome, chownToTestUser, spawnBurrow } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { burrowIn, ok, pullAlpine, TEST_ENGINES } from "../harness/suite.js";
import { TarParser } from "../../src/image/tar-parser.js";
import { layerFromEntries } from "../harness/image-builder.js";

let home: TestHome;
let alpine: string;
const burrow = burrowIn(() => home);

before(async () => {
  home = await makeTestHome();
  alpine = await pullAlpine(burrow, "build-base");
});
after(async () => {
  await home.cleanup();
});

/** A context folder in the test home holding `files` (path -> content), readable by the test user. */
async function context(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(home.dir, name);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  await chownToTestUser(dir);
  return dir;
}

/** The image id a build printed on stdout (asserted to succeed). */
async function build(args: string[]): Promise<{ id: string; stderr: string }> {
  const r = await burrow(["build", ...args]);
  const out = ok(r).trim();
  assert.match(out, /^[a-f0-9]{64}$/, `build printed ${out}`);
  return { id: out, stderr: r.stderr };
}

/** The steps a build's progress says were taken from the cache ("STEP n" lines followed by "Using cache"). */
function cachedSteps(stderr: string): number[] {
  const steps: number[] = [];
  let current = 0;
  for (const line of stderr.split("\n")) {
    const m = /^STEP (\d+)\//.exec(line);
    if (m) current = Number(m[1]);
    if (line.startsWith("--> Using cache")) steps.push(current);
  }
  return steps;
}

/** Each layer's members of a stored image, as "path uid:gid". */
function layerMembers(id: string): string[][] {
  const store = home.burrowDir;
  const record = JSON.parse(fs.readFileSync(path.join(store, "images", id, "image.json"), "utf8")) as {
    layers: { digest: string }[];
  };
  return record.layers.map((l) => {
    const members: string[] = [];
    const parser = new TarParser({
      entry: (e) => members.push(`${e.path} ${e.uid}:${e.gid}`),
      data: () => {},
      entryEnd: () => {},
    });
    parser.write(zlib.gunzipSync(fs.readFileSync(path.join(store, "blobs/sha256", l.digest.slice(7)))));
    parser.end();
    return members;
  });
}

test("the cache: an unchanged rebuild is the same image, an edited file reruns its COPY and what follows", async () => {
  const dir = await context("cache", {
    Dockerfile: [
      `FROM ${alpine}`,
      "RUN echo one > /one",
      "COPY a.txt /app/a.txt",
      "RUN cat /app/a.txt > /app/copy",
      "COPY b.txt /app/b.txt",
      'CMD ["cat", "/app/copy"]',
    ].join("\n"),
    "a.txt": "first\n",
    "b.txt": "b\n",
  });
  const first = await build(["-t", "cache:1", dir]);
  assert.deepEqual(cachedSteps(first.stderr), []);
  const again = await build(["-t", "cache:1", dir]);
  assert.equal(again.id, first.id, "an unchanged rebuild makes the same image");
  assert.deepEqual(cachedSteps(again.stderr), [2, 3, 4, 5]);
  fs.writeFileSync(path.join(dir, "a.txt"), "second\n");
  const edited = await build(["-t", "cache:2", dir]);
  assert.notEqual(edited.id, first.id);
  assert.deepEqual(cachedSteps(edited.stderr), [2], "only the step before the edited COPY is reused");
  assert.equal(ok(await burrow(["run", "cache:2"])), "second\n");
  // --no-cache does every step again.
  const fresh = await build(["--no-cache", "-t", "cache:3", dir]);
  assert.deepEqual(cachedSteps(fresh.stderr), []);
  assert.equal(ok(await burrow(["run", "cache:3"])), "second\n");
  // rmi removes the names; the cache keeps its layers (as --no-cache left them), and the next build makes
  // the image again from them.
  ok(await burrow(["rmi", "cache:2"]));
  ok(await burrow(["rmi", "cache:3"]));
  assert.equal(fs.existsSync(path.join(home.burrowDir, "images", fresh.id)), false);
  const back = await build(["-t", "cache:2", dir]);
  assert.equal(back.id, fresh.id);
  assert.deepEqual(cachedSteps(back.stderr), [2, 3, 4, 5]);
  assert.equal(ok(await burrow(["run", "cache:2"])), "second\n");
  const history = ok(await burrow(["history", "--no-trunc", "cache:2"]));
  assert.match(history, /RUN \/bin\/sh -c cat \/app\/a.txt > \/app\/copy/);
  assert.match(history, /COPY a.txt \/app\/a.txt/);
  assert.deepEqual(
    fs.readdirSync(path.join(home.burrowDir, "tmp")).filter((n) => n.startsWith("build-")),
    [],
    "no work folder is left",
  );
});

test("with SOURCE_DATE_EPOCH, a build done again without the cache makes the same image", async () => {
  const dir = await context("epoch", {
    Dockerfile: `FROM ${alpine}\nRUN mkdir -p /out && echo same > /out/file\nCOPY a.txt /out/\nCMD ["cat", "/out/file"]\n`,
    "a.txt": "a\n",
  });
  const args = ["--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", dir];
  const first = await build(["-t", "epoch:1", ...args]);
  const second = await build(["-t", "epoch:2", ...args]);
  assert.equal(second.id, first.id);
  assert.doesNotMatch(first.stderr, /not used/);
  const inspect = JSON.parse(ok(await burrow(["inspect", first.id]))) as { Created?: string }[];
  assert.equal(inspect[0]!.Created, "2023-11-14T22:13:20.000Z");
});

test("layers record the owners RUN and COPY --chown give; the stored files belong to the user", async () => {
  const dir = await context("owners", {
    Dockerfile: [
      `FROM ${alpine}`,
      "RUN adduser -D -u 1234 app && mkdir /data && touch /data/f && chown -R app:app /data",
      "COPY --chown=1234:1234 file /home/app/file",
      "USER app",
      "RUN touch /home/app/made-by-app && id -u",
    ].join("\n"),
    file: "x\n",
  });
  const { id, stderr } = await build(["-t", "owners:1", dir]);
  assert.match(stderr, /^1234$/m, "the last RUN ran as app");
  const layers = layerMembers(id);
  const all = layers.slice(1).flat();
  for (const want of [
    "data/ 1234:1234",
    "data/f 1234:1234",
    "home/app/file 1234:1234",
    "home/app/made-by-app 1234:1234",
  ]) {
    assert.ok(all.includes(want), `${want} in ${all.join(", ")}`);
  }
  // The stored rootfs is the user's, as a pulled one is: the image runs, and rmi removes it.
  assert.equal(ok(await burrow(["run", "owners:1", "cat", "/home/app/file"])), "x\n");
  ok(await burrow(["rmi", "owners:1"]));
  assert.equal(fs.existsSync(path.join(home.burrowDir, "images", id)), false);
});

test("-f - reads the Dockerfile from stdin; its mistakes name it so", async () => {
  const dir = await context("stdin", { "a.txt": "from the context\n" });
  const r = await burrow(["build", "-q", "-f", "-", "-t", "stdin:1", dir], {
    input: `FROM ${alpine}\nCOPY a.txt /a.txt\nCMD ["cat", "/a.txt"]\n`,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(ok(await burrow(["run", "stdin:1"])), "from the context\n");
  const bad = await burrow(["build", "-q", "-f", "-", dir], { input: `FROM ${alpine}\nBOGUS x\n` });
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /^burrow: Dockerfile \(stdin\) line 2: unknown instruction: BOGUS$/m);
});

test("ONBUILD triggers run in the child build and are not inherited", async () => {
  const parent = await context("onbuild-parent", {
    Dockerfile: `FROM ${alpine}\nONBUILD RUN touch /triggered\n`,
  });
  await build(["-t", "onbuild:parent", parent]);
  const child = await context("onbuild-child", {
    Dockerfile: "FROM onbuild:parent\nRUN test -f /triggered\n",
  });
  const { id } = await build(["-t", "onbuild:child", child]);
  const inspect = JSON.parse(ok(await burrow(["inspect", id]))) as { Config?: { OnBuild?: unknown } }[];
  assert.ok(inspect[0]!.Config?.OnBuild == null, JSON.stringify(inspect[0]!.Config));
});

test("a failing RUN: status 1, one line with the step, its status and last output; nothing tagged", async () => {
  const dir = await context("failing", {
    Dockerfile: `FROM ${alpine}\nRUN echo first-line && echo last-line && exit 3\n`,
  });
  const r = await burrow(["build", "-q", "-t", "failing:1", dir]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /Dockerfile line 2: RUN echo first-line.*status 3.*first-line \| last-line/);
  assert.notEqual((await burrow(["inspect", "failing:1"])).code, 0);
});

test("an interrupted build leaves no work folder and no image; the next build reuses the steps it finished", async () => {
  const dir = await context("interrupted", {
    Dockerfile: `FROM ${alpine}\nRUN echo done > /first\nRUN echo started && sleep 60\n`,
  });
  const child = await spawnBurrow(["build", "-t", "interrupted:1", dir], { home });
  let err = "";
  await new Promise<void>((resolve) => {
    child.stderr.on("data", (b: Buffer) => {
      err += b.toString();
      if (err.includes("started")) resolve();
    });
  });
  child.kill("SIGINT");
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.notEqual(code, 0);
  assert.notEqual((await burrow(["inspect", "interrupted:1"])).code, 0, "nothing is tagged");
  assert.deepEqual(
    fs.readdirSync(path.join(home.burrowDir, "tmp")).filter((n) => n.startsWith("build-")),
    [],
    "the work folder is gone",
  );
  fs.writeFileSync(path.join(dir, "Dockerfile"), `FROM ${alpine}\nRUN echo done > /first\nRUN echo quick\n`);
  const { stderr } = await build(["-t", "interrupted:1", dir]);
  assert.deepEqual(cachedSteps(stderr), [2]);
});

test("a base whose /etc is a link to a host folder: RUN's mount points are made and removed inside the root only", async () => {
  // A host folder of the user's, holding empty files named as the run's mount points.
  const host = path.join(home.dir, "host-etc");
  fs.mkdirSync(host);
  for (const name of ["resolv.conf", "hostname", "hosts"]) fs.writeFileSync(path.join(host, name), "");
  await chownToTestUser(host);
  const before = fs.readdirSync(host).sort();
  const linked = await pullAlpine(burrow, "build-etc-link", {
    layers: [await layerFromEntries([{ path: "etc", type: "symlink", linkname: host }])],
  });
  const dir = await context("etc-link", { Dockerfile: `FROM ${linked}\nRUN echo ran > /ran\n` });
  await build(["-t", "etc-link:1", dir]);
  assert.deepEqual(fs.readdirSync(host).sort(), before, "the host folder keeps its files");
  for (const name of before) assert.equal(fs.statSync(path.join(host, name)).size, 0);
});

for (const engine of TEST_ENGINES) {
  test(`RUN steps on engine ${engine}: the build's network, build args in the environment, the image runs`, async () => {
    const dir = await context(`engine-${engine}`, {
      Dockerfile: [
        `FROM ${alpine}`,
        "ARG WHO=nobody",
        'RUN echo "built by $WHO on $(cat /etc/hostname 2>/dev/null || hostname)" > /made && adduser -D app && chown app /made',
        'CMD ["cat", "/made"]',
      ].join("\n"),
    });
    const { id } = await build([
      "--engine",
      engine,
      "--build-arg",
      "WHO=tester",
      "-t",
      `engine-${engine}:1`,
      dir,
    ]);
    assert.match(ok(await burrow(["run", id])), /^built by tester on /);
    const made = layerMembers(id)
      .slice(1)
      .flat()
      .find((m) => m.startsWith("made "));
    // Owners are real where the build's namespace holds the step (userns, proot); runc keeps its own.
    assert.equal(made, engine === "runc" ? "made 0:0" : "made 1000:0");
  });
}
