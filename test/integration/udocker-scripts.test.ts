// udocker's own acceptance tests, re-expressed: the command lines of utils/udocker_test.sh and
// utils/udocker_test-run.sh in udocker's repository (indigo-dc/udocker) and the outcomes they expect (exit
// status 0, or exactly 1 where the script inverts the result), run through a `udocker` executable on PATH
// that execs burrow, as the unprivileged test user, with UDOCKER_DIR set as the scripts set it. Each test
// is named after the script's T-number.
//
// Docker Hub and public.ecr.aws are unreachable here: a registry mirror (BURROW_REGISTRY_MIRRORS) stands
// in for both, holding the scripts' image names. Stand-ins: ubuntu:22.04, centos:7 and python:3-slim are
// the harness's Debian rootfs (GNU coreutils, as the scripts' `ls --version` needs), openjdk:8-jdk-alpine
// and redis the Alpine fixture; the two files the script downloads (centos7.tar, a `docker save` archive,
// and centos7-cont.tar, a container's root file system) are made from the same images with skopeo and
// tar. Tests that need the internet (install, search, login) or a program only the real image has (java,
// python3, redis-server) are skipped, saying so.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { asTestUser, burrowEnv, chownToTestUser, makeTestHome, testEnv } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromTarball, pushImage, skopeoFlags } from "../harness/image-builder.js";
import { debianTarball } from "../harness/debian.js";
import { runProgram, type ProcResult } from "../harness/proc.js";
import { show, DOCKER_PATH } from "../harness/suite.js";

/** The registry namespace the mirror serves this file's images from (another file's pushes never mix in). */
const NS = `udocker-${Math.random().toString(16).slice(2, 10)}`;

const NEEDS_INTERNET =
  "needs the internet (GitHub or Docker Hub itself), which the test machine does not reach";
const NEEDS_REAL_IMAGE = (what: string, image: string): string =>
  `needs ${what}, which only the real ${image} has (no local stand-in carries it)`;

/** The mirror setting that makes Docker Hub and public.ecr.aws names resolve to this file's images. */
function mirrors(): string {
  const host = testEnv().registries.plain.host;
  return `docker.io=http://${host}/${NS} public.ecr.aws=http://${host}/${NS}/ecr`;
}

/** Pushes the images the scripts pull, under the names they use, into the mirror's namespace. */
async function pushScriptImages(): Promise<void> {
  const debian = await layerFromTarball(debianTarball());
  const alpine = await layerFromTarball(testEnv().alpine);
  const env = [`PATH=${DOCKER_PATH}`];
  const images: [string, string, typeof debian, string[]][] = [
    ["library/ubuntu", "22.04", debian, ["/bin/bash"]],
    ["library/centos", "7", debian, ["/bin/bash"]],
    ["library/python", "3-slim", debian, ["python3"]],
    ["library/openjdk", "8-jdk-alpine", alpine, ["/bin/sh"]],
    ["ecr/docker/library/redis", "latest", alpine, ["redis-server"]],
  ];
  for (const [repo, tag, layer, cmd] of images) {
    await pushImage("plain", `${NS}/${repo}`, tag, [layer], {
      format: "docker",
      config: { Cmd: cmd, Env: env },
    });
  }
}

/** A home with a `udocker` on PATH that execs the staged burrow CLI (what a udocker user's PATH would hold). */
async function udockerHome(): Promise<{ home: TestHome; bin: string }> {
  const home = await makeTestHome();
  const bin = path.join(home.dir, "bin");
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, "udocker"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(testEnv().cli)} "$@"\n`,
    { mode: 0o755 },
  );
  await chownToTestUser(bin);
  return { home, bin };
}

/** Runs a line of the script with bash as the test user: UDOCKER_DIR as the scripts export it, no BURROW_DIR. */
function scriptRunner(ctx: () => { home: TestHome; bin: string }) {
  return async (line: string, extraEnv: Record<string, string> = {}): Promise<ProcResult> => {
    const { home, bin } = ctx();
    const env = burrowEnv(home.dir, {
      BURROW_DIR: undefined,
      UDOCKER_DIR: path.join(home.dir, ".udocker-tests"),
      BURROW_REGISTRY_MIRRORS: mirrors(),
      ...extraEnv,
    });
    env.PATH = `${bin}:${env.PATH ?? ""}`;
    const [cmd, ...args] = asTestUser(["bash", "-c", line]);
    return runProgram(cmd!, args, { env, cwd: home.dir, allowFailure: true, timeoutMs: 300_000 });
  };
}

/** The script's `result`: status 0. */
function passes(r: ProcResult, line: string): string {
  assert.equal(r.code, 0, `${line}\n${show(r)}`);
  return r.stdout;
}

/** The script's `result_inv`: exactly status 1. */
function failsWith1(r: ProcResult, line: string): void {
  assert.equal(r.code, 1, `${line}\n${show(r)}`);
}

before(async () => {
  await pushScriptImages();
});

describe("utils/udocker_test.sh: every udocker command but run", () => {
  let ctx: { home: TestHome; bin: string };
  const sh = scriptRunner(() => ctx);
  const DOCKER_IMG = "ubuntu:22.04";
  const CONT = "ubuntu";
  let contId = "";
  let testUdir = "";
  const udir = (): string => path.join(ctx.home.dir, ".udocker-tests");
  /** Runs one of the script's lines and asserts status 0. */
  const ok = async (line: string, env?: Record<string, string>): Promise<string> =>
    passes(await sh(line, env), line);

  before(async () => {
    ctx = await udockerHome();
    testUdir = path.join(ctx.home.dir, ".udocker-test-h45y7k9X");
    // The files the script downloads, made here: a `docker save` archive of centos:7 (by skopeo, not burrow)
    // and a container's root file system as a plain tar.
    const host = testEnv().registries.plain.host;
    await runProgram("skopeo", [
      "copy",
      ...skopeoFlags("plain", "src"),
      `docker://${host}/${NS}/library/centos:7`,
      `docker-archive:${path.join(ctx.home.dir, "centos7.tar")}:centos:7`,
    ]);
    fs.writeFileSync(
      path.join(ctx.home.dir, "centos7-cont.tar"),
      zlib.gunzipSync(fs.readFileSync(debianTarball())),
    );
    await chownToTestUser(ctx.home.dir);
  });

  after(async () => {
    await ctx?.home.cleanup();
  });

  test("T001: udocker install", { skip: NEEDS_INTERNET }, () => undefined);
  test("T002: udocker install --force", { skip: NEEDS_INTERNET }, () => undefined);

  test("T003: udocker (with no options)", async () => {
    await ok("udocker");
  });
  test("T004: udocker help", async () => {
    await ok("udocker help >/dev/null 2>&1");
  });
  test("T005: udocker -h", async () => {
    await ok("udocker -h >/dev/null 2>&1");
  });
  test("T006: udocker showconf", async () => {
    await ok("udocker showconf");
  });
  test("T007: udocker version", async () => {
    await ok("udocker version");
  });
  test("T008: udocker -D version", async () => {
    await ok("udocker -D version");
  });
  test("T009: udocker --quiet version", async () => {
    await ok("udocker --quiet version");
  });
  test("T010: udocker -q version", async () => {
    await ok("udocker -q version");
  });
  test("T011: udocker --debug version", async () => {
    await ok("udocker --debug version");
  });
  test("T012: udocker -V", async () => {
    await ok("udocker -V >/dev/null 2>&1");
  });
  test("T013: udocker --version", async () => {
    await ok("udocker --version >/dev/null 2>&1");
  });
  test("T014: udocker search -a gromacs | grep ^gromacs", { skip: NEEDS_INTERNET }, () => undefined);

  test(`T015: udocker pull ${DOCKER_IMG} (through the mirror standing in for Docker Hub)`, async () => {
    await ok(`udocker pull ${DOCKER_IMG}`);
    assert.ok(fs.existsSync(udir()), "the store is UDOCKER_DIR, as the script exported it");
  });
  test(`T016: udocker --insecure pull ${DOCKER_IMG}`, async () => {
    await ok(`udocker --insecure pull ${DOCKER_IMG}`);
  });
  test(`T017: udocker verify ${DOCKER_IMG}`, async () => {
    await ok(`udocker verify ${DOCKER_IMG}`);
  });
  test("T018: udocker images", async () => {
    assert.match(await ok("udocker images"), /ubuntu/);
  });
  test("T019: udocker inspect (image)", async () => {
    await ok(`udocker inspect ${DOCKER_IMG}`);
  });
  // The script runs `export $(udocker create IMG)` and reads $ContainerID, an output shape no udocker
  // release documents (udocker's create prints the bare id, as burrow's does); the id is taken as printed.
  test(`T020: udocker create ${DOCKER_IMG} prints the new container's id`, async () => {
    contId = (await ok(`udocker create ${DOCKER_IMG}`)).trim();
    assert.match(contId, /^[a-f0-9]{64}$/);
  });
  test(`T021: udocker create --name=${CONT} ${DOCKER_IMG}`, async () => {
    await ok(`udocker create --name=${CONT} ${DOCKER_IMG}`);
  });
  test("T022: udocker ps", async () => {
    await ok("udocker ps");
  });
  test("T023: udocker name CONT_ID conti", async () => {
    await ok(`udocker name ${contId} conti`);
    assert.match(await ok("udocker ps"), /conti/);
  });
  test("T024: udocker rmname conti", async () => {
    await ok("udocker rmname conti");
    assert.match(await ok("udocker ps"), new RegExp(contId.slice(0, 12)));
  });
  test("T025: udocker inspect (container CONT_ID)", async () => {
    await ok(`udocker inspect ${contId}`);
  });
  test("T026: udocker clone --name=myclone CONT_ID", async () => {
    await ok(`udocker clone --name=myclone ${contId}`);
  });
  test("T027: udocker export -o myexportcont.tar CONT_ID", async () => {
    // The script's `chmod -R u+x $UDOCKER_DIR/containers/ID/ROOT` (udocker's layout) is not part of the result.
    await sh(`chmod -R u+x ${udir()}/containers/${contId}/ROOT`);
    await ok(`udocker export -o myexportcont.tar ${contId}`);
    assert.ok(fs.statSync(path.join(ctx.home.dir, "myexportcont.tar")).size > 0);
  });
  test("T028: udocker rm CONT_ID", async () => {
    await ok(`udocker rm ${contId}`);
  });
  test(`T029: udocker setup ${CONT}`, async () => {
    await ok(`udocker setup ${CONT}`);
  });
  test("T030: udocker mkrepo TEST_UDIR", async () => {
    fs.rmSync(testUdir, { recursive: true, force: true });
    await ok(`udocker mkrepo ${testUdir}`);
  });
  test(`T031: udocker --repo=TEST_UDIR pull ${DOCKER_IMG}`, async () => {
    await ok(`udocker --repo=${testUdir} pull ${DOCKER_IMG}`);
  });
  test(`T032: udocker --repo=TEST_UDIR verify ${DOCKER_IMG}`, async () => {
    await ok(`udocker --repo=${testUdir} verify ${DOCKER_IMG}`);
  });
  test(`T033: UDOCKER_DIR=TEST_UDIR udocker verify ${DOCKER_IMG} (reads TEST_UDIR's store)`, async () => {
    await ok(`UDOCKER_DIR=${testUdir} udocker verify ${DOCKER_IMG}`);
    // The store it read is TEST_UDIR's: it has the image and none of the default store's containers.
    assert.doesNotMatch(await ok(`UDOCKER_DIR=${testUdir} udocker ps`), /\bubuntu\b/);
  });
  test("T034: udocker load -i centos7.tar", async () => {
    await ok("udocker load -i centos7.tar");
    assert.match(await ok("udocker images"), /centos/);
  });
  test(`T035: udocker protect ${CONT} (container)`, async () => {
    await ok(`udocker protect ${CONT}`);
  });
  test(`T036: udocker rm ${CONT} (try to remove protected container) exits 1`, async () => {
    const line = `udocker rm ${CONT}`;
    failsWith1(await sh(line), line);
  });
  test(`T037: udocker unprotect ${CONT} (container)`, async () => {
    await ok(`udocker unprotect ${CONT}`);
  });
  test(`T038: udocker rm ${CONT} (try to remove unprotected container)`, async () => {
    await ok(`udocker rm ${CONT}`);
  });
  test("T039: udocker import centos7-cont.tar mycentos1:latest", async () => {
    await ok("udocker import centos7-cont.tar mycentos1:latest");
  });
  test("T040: udocker import --tocontainer --name=mycont centos7-cont.tar", async () => {
    await ok("udocker import --tocontainer --name=mycont centos7-cont.tar");
  });
  test("T041: udocker import --clone --name=clone_cont centos7-cont.tar", async () => {
    await ok("udocker import --clone --name=clone_cont centos7-cont.tar");
    assert.match(await ok("udocker ps"), /clone_cont/);
  });
  test(`T042: udocker rmi ${DOCKER_IMG} (a container, myclone, was made from it)`, async () => {
    await ok(`udocker rmi ${DOCKER_IMG}`);
  });
  test("T043: udocker ps -m", async () => {
    await ok("udocker ps -m");
  });
  test("T044: udocker ps -s -m", async () => {
    await ok("udocker ps -s -m");
  });
  test("T045: udocker images -l", async () => {
    await ok("udocker images -l");
  });
  test("T046: udocker pull docker.io/python:3-slim", async () => {
    await ok("udocker pull docker.io/python:3-slim");
  });
  test("T047: udocker create --name=py3slim docker.io/python:3-slim", async () => {
    await ok("udocker create --name=py3slim docker.io/python:3-slim");
  });
  test(
    "T048: udocker run py3slim python3 --version",
    { skip: NEEDS_REAL_IMAGE("python3", "python:3-slim") },
    () => undefined,
  );
  test("T049: udocker pull public.ecr.aws/docker/library/redis", async () => {
    await ok("udocker pull public.ecr.aws/docker/library/redis");
  });
  test("T050: udocker create --name=redis public.ecr.aws/docker/library/redis", async () => {
    await ok("udocker create --name=redis public.ecr.aws/docker/library/redis");
  });
  test(
    "T051: udocker run redis redis-server --version",
    { skip: NEEDS_REAL_IMAGE("redis-server", "public.ecr.aws/docker/library/redis") },
    () => undefined,
  );
  test(
    "T052: udocker login --username=username --password=password",
    { skip: NEEDS_INTERNET },
    () => undefined,
  );
  test("T053: udocker logout -a", async () => {
    await ok("udocker logout -a");
  });
});

describe("utils/udocker_test-run.sh: run in every execution mode", () => {
  let ctx: { home: TestHome; bin: string };
  const sh = scriptRunner(() => ctx);
  const ok = async (line: string): Promise<string> => passes(await sh(line), line);

  before(async () => {
    ctx = await udockerHome();
    // The script's preamble: pulls and creates, statuses not checked by the script (checked here).
    for (const line of [
      "udocker pull centos:7",
      "udocker pull ubuntu:22.04",
      "udocker pull openjdk:8-jdk-alpine",
      "udocker images",
      "udocker create --name=c7 centos:7",
      "udocker create --name=ub22 ubuntu:22.04",
      "udocker create --name=jv openjdk:8-jdk-alpine",
      "udocker ps",
    ]) {
      await ok(line);
    }
  });

  after(async () => {
    await ctx?.home.cleanup();
  });

  const JAVA = NEEDS_REAL_IMAGE("java", "openjdk:8-jdk-alpine");
  /** The script's sequence, T-number by T-number: [T, mode (undefined: setup with no mode), container, is a run]. */
  const steps: [number, string | undefined, "jv" | "c7" | "ub22", boolean][] = [];
  const modes: [string | undefined, ("jv" | "c7" | "ub22")[]][] = [
    [undefined, ["jv", "c7", "ub22"]],
    ["P2", ["jv", "c7", "ub22"]],
    ["F1", ["c7", "ub22"]],
    ["F2", ["c7", "ub22"]],
    ["F3", ["jv", "c7", "ub22"]],
    ["F4", ["jv", "c7", "ub22"]],
    ["R1", ["jv", "c7", "ub22"]],
    ["R2", ["jv", "c7", "ub22"]],
    ["R3", ["jv", "c7", "ub22"]],
  ];
  let t = 1;
  for (const [mode, containers] of modes) {
    for (const c of containers) {
      steps.push([t++, mode, c, false]);
      steps.push([t++, mode, c, true]);
    }
  }
  for (const [n, mode, c, isRun] of steps) {
    const label = `execmode = ${mode ?? "P1"}`;
    const id = `T${String(n).padStart(3, "0")}`;
    if (!isRun) {
      const line = mode === undefined ? `udocker setup ${c}` : `udocker setup --execmode=${mode} ${c}`;
      test(`${id}: ${line} == ${label}`, async () => {
        await ok(line);
      });
    } else if (c === "jv") {
      test(`${id}: udocker run --env="LANG=C" jv java -version == ${label}`, { skip: JAVA }, () => undefined);
    } else {
      const line = `udocker run ${c} ls --version`;
      test(`${id}: ${line} == ${label}`, async () => {
        assert.match(await ok(line), /coreutils/);
      });
    }
  }
});
