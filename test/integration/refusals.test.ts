// Clean refusals (issue 10, item 9): malformed image configs, a malformed config file, values execve would
// refuse (E2BIG) and containers holding folders they made unreadable each give one line and burrow's
// failure status (125 for run, 1 for the other commands), never `internal error`, and leave the store as it was; the containers still run afterwards.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chownToTestUser, makeTestHome } from "../harness/env.js";
import type { BurrowResult, TestHome } from "../harness/env.js";
import { pushImage, uniqueRepo } from "../harness/image-builder.js";
import { DOCKER_PATH, TEST_ENGINES, alpineLayer, burrowIn, burrowFails, ok, show } from "../harness/suite.js";

let home: TestHome;
const burrow = burrowIn(() => home);

/** Pushes the Alpine layer under `config` (the image config's `config` object) and pulls it. */
async function imageWith(label: string, config: unknown): Promise<string> {
  const pushed = await pushImage("plain", uniqueRepo(`rf-${label}`), "1", [await alpineLayer()], {
    config: config as Record<string, unknown>,
  });
  ok(await burrow(["pull", pushed.ref]));
  return pushed.ref;
}

/** What the store holds: every entry under its top folders (temporary ones included), sorted. */
function storeListing(): string[] {
  const out: string[] = [];
  for (const top of ["images", "containers", "refs", "tmp"]) {
    const dir = path.join(home.burrowDir, top);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs.readdirSync(dir)) {
      // Probe caches are rewritten by any run; they are not the user's data.
      if (top === "tmp" && name.startsWith("probe")) continue;
      out.push(`${top}/${name}`);
    }
  }
  return out.sort();
}

/** Asserts burrow's own failure (125 for run and exec, else 1; one line) and that no line is Node's or an internal error. */
function refused(r: BurrowResult, message: RegExp): void {
  burrowFails(r, message);
  assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+|spawn E2BIG|TypeError/, show(r));
}

let good = "";

before(async () => {
  home = await makeTestHome();
  good = await imageWith("good", { Cmd: ["/bin/sh"], Env: [`PATH=${DOCKER_PATH}`] });
  ok(await burrow(["create", "--name", "keeper", good]));
  ok(await burrow(["run", "keeper", "sh", "-c", "echo kept > /kept"]));
});

after(async () => {
  await home.cleanup();
});

/** The container made in `before` still runs and still holds what it wrote. */
async function keeperRuns(): Promise<void> {
  assert.equal(ok(await burrow(["run", "keeper", "cat", "/kept"])), "kept\n");
}

describe("a malformed image config: one line naming the field, 125 (run), nothing made", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "cmd-object",
      { Cmd: { a: 1 } },
      /Cmd is an object, not a list of strings; give a command after the image name/,
    ],
    ["cmd-member", { Cmd: ["/bin/echo", 1] }, /Cmd\[1\] is the number 1, not a string/],
    ["ep-object", { Entrypoint: { sh: true } }, /Entrypoint is an object.*give --entrypoint/],
    ["ep-member", { Entrypoint: ["/bin/sh", null] }, /Entrypoint\[1\] is null, not a string/],
    ["env-string", { Cmd: ["true"], Env: "PATH=/bin" }, /Env is the string "PATH=\/bin", not a list/],
    [
      "env-noeq",
      { Cmd: ["true"], Env: [`PATH=${DOCKER_PATH}`, "JUSTNAME"] },
      /Env\[1\] is the string "JUSTNAME", not NAME=value/,
    ],
    ["env-number", { Cmd: ["true"], Env: [7] }, /Env\[0\] is the number 7/],
    ["user-number", { Cmd: ["true"], User: 1000 }, /User is the number 1000, not a string; give -u USER/],
    [
      "workdir-number",
      { Cmd: ["true"], WorkingDir: 5 },
      /WorkingDir is the number 5, not a string; give -w FOLDER/,
    ],
    ["ports-list", { Cmd: ["true"], ExposedPorts: ["80/tcp"] }, /ExposedPorts is a list, not an object/],
    ["volumes-string", { Cmd: ["true"], Volumes: "/data" }, /Volumes is the string "\/data", not an object/],
    ["labels-number", { Cmd: ["true"], Labels: { a: 1 } }, /Labels\["a"\] is the number 1, not a string/],
    ["health-string", { Cmd: ["true"], Healthcheck: "curl localhost" }, /Healthcheck is the string/],
    ["config-list", [] as unknown as Record<string, unknown>, /config is a list, not an object/],
  ];
  for (const [label, config, message] of cases) {
    test(`${label}: run and run --name refuse; the store is unchanged`, async () => {
      const ref = await imageWith(label, config);
      const before = storeListing();
      refused(
        await burrow(["run", ref]),
        new RegExp(`^burrow: cannot run .*: the image's config is malformed: ${message.source}`),
      );
      refused(await burrow(["run", "--name", `n-${label}`, ref]), message);
      refused(await burrow(["run", "--rm", ref]), message);
      assert.deepEqual(storeListing(), before);
      await keeperRuns();
    });
  }

  test("a field the command line replaces is not read: -u, -w, a command and --entrypoint run such images", async () => {
    assert.equal(
      ok(await burrow(["run", "-u", "0", await imageWith("user-num2", { Cmd: ["id", "-u"], User: 1000 })])),
      "0\n",
    );
    assert.equal(
      ok(await burrow(["run", "-w", "/tmp", await imageWith("wd-num2", { Cmd: ["pwd"], WorkingDir: 5 })])),
      "/tmp\n",
    );
    const cmdObject = await imageWith("cmd-obj2", { Cmd: { a: 1 } });
    assert.equal(ok(await burrow(["run", cmdObject, "echo", "given"])), "given\n");
    const epObject = await imageWith("ep-obj2", { Entrypoint: 5, Cmd: { a: 1 } });
    assert.equal(ok(await burrow(["run", "--entrypoint", "echo", epObject, "x"])), "x\n");
  });

  test("a string Entrypoint or Cmd is one program name, as docker reads it: never run character by character", async () => {
    // docker runs "/bin/echo hi" as a program of that name: not found, 127, named in the line.
    const ep = await imageWith("ep-string", { Entrypoint: "/bin/echo hi" });
    const r = await burrow(["run", ep]);
    assert.equal(r.code, 127, show(r));
    assert.match(r.stderr, /\/bin\/echo hi/);
    assert.doesNotMatch(r.stderr, /"\/"|internal error/);
    // A one-word string runs, as with docker.
    const cmd = await imageWith("cmd-string", { Cmd: "/bin/pwd", WorkingDir: "/etc" });
    assert.equal(ok(await burrow(["run", cmd])), "/etc\n");
    await keeperRuns();
  });
});

describe('a malformed config file ("engine": 42 and the like): one line naming the file and key', () => {
  const confFile = (): string => path.join(home.dir, ".config", "burrow", "config.json");
  const write = async (text: string): Promise<void> => {
    fs.mkdirSync(path.dirname(confFile()), { recursive: true });
    fs.writeFileSync(confFile(), text);
    await chownToTestUser(path.join(home.dir, ".config"));
  };
  after(() => fs.rmSync(path.join(home.dir, ".config", "burrow"), { recursive: true, force: true }));

  for (const [text, message] of [
    ['{"engine": 42}', /sets "engine" to the number 42: it must be an engine name/],
    ['{"storeDir": 42}', /sets "storeDir" to the number 42/],
    ['{"insecureRegistries": "a:5000"}', /sets "insecureRegistries" to the string "a:5000"/],
    ['{"maxConcurrentDownloads": "4"}', /sets "maxConcurrentDownloads" to the string "4"/],
    ["{not json", /is not valid JSON/],
  ] as const) {
    test(`${text}: run, images, ps and showconf refuse in one line; the store is unchanged`, async () => {
      await write(text);
      const before = storeListing();
      const line = new RegExp(
        `^burrow: the config file ${confFile().replace(/[.]/g, "\\.")} ${message.source}.*: fix or remove it$`,
        "m",
      );
      for (const args of [["run", "keeper", "true"], ["images"], ["ps"], ["showconf"]]) {
        refused(await burrow(args), line);
      }
      assert.deepEqual(storeListing(), before);
      fs.rmSync(confFile());
      await keeperRuns();
    });
  }
});

describe("arguments and environment over execve's limits (E2BIG): one line naming the value, every engine", () => {
  let bigEnvImage = "";
  let envFile = "";
  before(async () => {
    bigEnvImage = await imageWith("big-env", {
      Cmd: ["true"],
      Env: [`PATH=${DOCKER_PATH}`, `BIG=${"b".repeat(1 << 20)}`],
    });
    envFile = path.join(home.dir, "many.env");
    fs.writeFileSync(
      envFile,
      Array.from({ length: 30 }, (_, i) => `V${i}=${"v".repeat(100_000)}\n`).join(""),
    );
    await chownToTestUser(envFile);
  });
  for (const engine of TEST_ENGINES) {
    test(`${engine}: a 1 MB variable from the image, from --env-file, and 3 MB in all`, async () => {
      const before = storeListing();
      refused(
        await burrow(["run", "--engine", engine, bigEnvImage]),
        /^burrow: the environment variable BIG is 1048581 bytes, more than the \d+ Linux passes in one variable: put large values in a file/,
      );
      const one = path.join(home.dir, `one-${engine}.env`);
      fs.writeFileSync(one, `HUGE=${"h".repeat(1 << 20)}\n`);
      await chownToTestUser(one);
      refused(
        await burrow(["run", "--engine", engine, "--env-file", one, good, "true"]),
        /the environment variable HUGE is/,
      );
      refused(
        await burrow(["run", "--engine", engine, "--env-file", envFile, good, "true"]),
        /arguments and environment come to \d+ bytes, more than a program can receive here/,
      );
      refused(
        await burrow([
          "run",
          "--engine",
          engine,
          "--name",
          `big-${engine}`,
          "--env-file",
          envFile,
          good,
          "true",
        ]),
        /come to \d+ bytes/,
      );
      assert.deepEqual(storeListing(), before);
      // Within the limits, the same engine runs: 10 variables of 100 kB.
      const fits = path.join(home.dir, `fits-${engine}.env`);
      fs.writeFileSync(fits, fs.readFileSync(envFile, "utf8").split("\n").slice(0, 10).join("\n") + "\n");
      await chownToTestUser(fits);
      assert.equal(
        ok(await burrow(["run", "--engine", engine, "--env-file", fits, good, "sh", "-c", "echo ${#V9}"])),
        "100000\n",
      );
      await keeperRuns();
    });
  }
});

describe("clone and export of a container holding a folder it made unreadable (mode 000)", () => {
  for (const layer of ["overlay", "copy"] as const) {
    test(`${layer} layer: one line naming the path and the fix, nothing made; after the fix both work`, async () => {
      const env = layer === "copy" ? { BURROW_LAYER: "copy" } : {};
      const name = `locked-${layer}`;
      ok(
        await burrow(
          ["run", "--name", name, good, "sh", "-c", "mkdir -p /x/sub && echo s > /x/sub/f && chmod 000 /x"],
          { env },
        ),
      );
      const ps = JSON.parse(ok(await burrow(["ps", "--format", "json"]))) as {
        names: string[];
        layer: string;
      }[];
      assert.equal(ps.find((c) => c.names.includes(name))?.layer, layer);
      const before = storeListing();
      const fix = new RegExp(
        `in it cannot be read \\(permission denied\\): make it readable inside the container \\(burrow run ${name} chmod -R u\\+rwX /x\\) and retry$`,
        "m",
      );
      refused(
        await burrow(["clone", name]),
        new RegExp(`^burrow: cannot copy container ${name}: /x in it cannot be read`),
      );
      refused(await burrow(["clone", "--name", `${name}-2`, name]), fix);
      const tar = path.join(home.dir, `${name}.tar`);
      refused(
        await burrow(["export", "-o", tar, name]),
        new RegExp(`^burrow: cannot export ${name}: /x/sub in it cannot be read`),
      );
      assert.equal(fs.existsSync(tar), false);
      assert.deepEqual(
        fs.readdirSync(home.dir).filter((n) => n.includes(".part")),
        [],
      );
      assert.deepEqual(storeListing(), before);
      // The container is intact and still runs; what the message says to do makes both work.
      assert.equal(ok(await burrow(["run", name, "cat", "/x/sub/f"], { env })), "s\n");
      ok(await burrow(["run", name, "chmod", "-R", "u+rwX", "/x"], { env }));
      const clone = ok(await burrow(["clone", "--name", `${name}-2`, name])).trim();
      assert.match(clone, /^[a-f0-9]{64}$/);
      assert.equal(ok(await burrow(["run", `${name}-2`, "cat", "/x/sub/f"], { env })), "s\n");
      ok(await burrow(["export", "-o", tar, name]));
      assert.ok(fs.statSync(tar).size > 0);
      await keeperRuns();
    });
  }
});
