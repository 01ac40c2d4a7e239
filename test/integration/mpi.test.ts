// The hybrid MPI model as the unprivileged test user: the host's launcher (Open MPI's mpirun, Slurm's
// srun --mpi=pmix) starts one `burrow run IMAGE /work/hello` per rank, and Open MPI inside a Debian image
// built here wires up with the host's PMIx server. The program is compiled inside the image with mpicc.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { testEnv, makeTestHome, burrowEnv, asTestUser, chownToTestUser, runBurrow } from "../harness/env.js";
import type { TestHome } from "../harness/env.js";
import { layerFromTarball, pushImage, uniqueRepo } from "../harness/image-builder.js";
import { ensureMpiImage } from "../harness/mpi-image.js";
import { findProgram } from "../harness/prerequisites.js";
import type { ProcResult } from "../harness/proc.js";
import { startSlurm } from "../harness/slurm.js";
import type { Slurm } from "../harness/slurm.js";
import { DOCKER_PATH, TEST_ENGINES, installBurrowCommand, plainRegistryEnv, show } from "../harness/suite.js";

/**
 * The image is built with debootstrap and Slurm's daemons run as root: a harness run as another user
 * skips this file and says why. Anything missing on a root run is a failure.
 */
const SKIP =
  process.getuid?.() === 0 ? false : "debootstrap and the Slurm daemons need root: run the harness as root";

/** The MPI program: each rank prints one line. */
const HELLO_C = `#include <mpi.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int rank, size, len;
	char name[MPI_MAX_PROCESSOR_NAME];

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(name, &len);
	printf("hello from rank %d of %d on %s\\n", rank, size, name);
	MPI_Finalize();
	return 0;
}
`;

/**
 * Two ranks: each prints its user namespace; rank 0 sends 4 MiB to rank 1, which checks every byte. Large
 * messages between ranks of one node take Open MPI's single-copy path (CMA, process_vm_readv) when the
 * job asks for it, which works only between processes of one user namespace.
 */
const PINGPONG_C = `#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N (4 << 20)

int main(int argc, char **argv)
{
	int rank, i;
	char ns[64] = "";
	unsigned char *buf = malloc(N);

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (readlink("/proc/self/ns/user", ns, sizeof ns - 1) < 0)
		return 2;
	printf("rank %d userns %s\\n", rank, ns);
	fflush(stdout);
	if (rank == 0) {
		for (i = 0; i < N; i++)
			buf[i] = (unsigned char)(i * 7);
		MPI_Send(buf, N, MPI_BYTE, 1, 0, MPI_COMM_WORLD);
	} else if (rank == 1) {
		MPI_Recv(buf, N, MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		for (i = 0; i < N; i++)
			if (buf[i] != (unsigned char)(i * 7))
				return 3;
		printf("rank 1 received %d bytes intact\\n", N);
	}
	MPI_Finalize();
	return 0;
}
`;

let home: TestHome;
let image = "";
/** The folder bound at /work in every run: hello.c and the compiled /work/hello. */
let work = "";
let slurm: Slurm | undefined;

/** What the launcher starts per rank: `burrow run --engine ENGINE -v WORK:/work IMAGE /work/hello`. */
const rankArgv = (engine: string): string[] => [
  "burrow",
  "run",
  "--engine",
  engine,
  "-v",
  `${work}:/work`,
  image,
  "/work/hello",
];

/** The test user's login environment: its home, `burrow` on PATH (as a site install gives one). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = burrowEnv(home.dir, plainRegistryEnv());
  return { ...e, PATH: `${path.join(home.dir, "bin")}:${e.PATH}`, ...extra };
}

/**
 * Runs `argv` as the test user in its own process group, killing the whole group (the launcher and
 * every rank) when it overstays, so that a hung job fails the test instead of outliving it.
 */
function asUser(argv: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<ProcResult> {
  const [cmd, ...args] = asTestUser(argv);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, {
      env,
      cwd: home.dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const r = {
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (timedOut) reject(new Error(`${argv.join(" ")} did not finish in ${timeoutMs} ms\n${show(r)}`));
      else resolve(r);
    });
  });
}

/** The lines both ranks print, in rank order; MPI_Get_processor_name is the host's name (no UTS namespace). */
function expectBothRanks(r: ProcResult): void {
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("hello from rank"))
    .sort();
  assert.deepEqual(
    lines,
    [0, 1].map((rank) => `hello from rank ${rank} of 2 on ${os.hostname()}`),
    show(r),
  );
}

before(async () => {
  if (SKIP) return;
  home = await makeTestHome();
  await installBurrowCommand(home);
  work = path.join(home.dir, "work");
  await fsp.mkdir(work);
  await fsp.writeFile(path.join(work, "hello.c"), HELLO_C);
  await fsp.writeFile(path.join(work, "pingpong.c"), PINGPONG_C);
  await chownToTestUser(work);
  // Built once (debootstrap, a few minutes) and cached in /var/cache/burrow-test.
  const tarball = await ensureMpiImage((l) => process.stdout.write(`# ${l}\n`));
  const pushed = await pushImage(
    "plain",
    uniqueRepo("openmpi"),
    "bookworm",
    [await layerFromTarball(tarball)],
    {
      config: {
        Cmd: ["bash"],
        Env: [`PATH=${DOCKER_PATH}`],
      },
    },
  );
  image = pushed.ref;
  const pull = await runBurrow(["pull", image], { home, env: userEnv(), timeoutMs: 600_000 });
  assert.equal(pull.code, 0, show(pull));
});

after(async () => {
  await slurm?.stop();
  await home?.cleanup();
});

describe("MPI: Open MPI 4.1 in a Debian image, launched by the host", { skip: SKIP }, () => {
  test("mpicc inside the image compiles the program into a bound folder, owned by the user", async () => {
    const r = await asUser(
      ["burrow", "run", "-v", `${work}:/work`, image, "mpicc", "-O2", "-o", "/work/hello", "/work/hello.c"],
      userEnv(),
      300_000,
    );
    assert.equal(r.code, 0, show(r));
    const pp = await asUser(
      [
        "burrow",
        "run",
        "-v",
        `${work}:/work`,
        image,
        "mpicc",
        "-O2",
        "-o",
        "/work/pingpong",
        "/work/pingpong.c",
      ],
      userEnv(),
      300_000,
    );
    assert.equal(pp.code, 0, show(pp));
    const st = await fsp.stat(path.join(work, "hello"));
    assert.ok(st.isFile() && (st.mode & 0o111) !== 0, "an executable /work/hello");
    assert.equal(st.uid, testEnv().user.uid || process.getuid?.());
    // A program that runs alone (a singleton MPI job) needs no launcher at all.
    const alone = await asUser(["burrow", "run", "-v", `${work}:/work`, image, "/work/hello"], userEnv());
    assert.equal(alone.code, 0, show(alone));
    assert.equal(alone.stdout, `hello from rank 0 of 1 on ${os.hostname()}\n`);
  });

  for (const engine of TEST_ENGINES) {
    test(`mpirun -np 2 burrow run --engine ${engine} IMAGE /work/hello prints both ranks`, async () => {
      // Fewer than two cores: Open MPI refuses to start more ranks than slots without --oversubscribe.
      const over = os.availableParallelism() < 2 ? ["--oversubscribe"] : [];
      const r = await asUser(["mpirun", ...over, "-np", "2", ...rankArgv(engine)], userEnv());
      expectBothRanks(r);
      // No warning from Open MPI either (burrow turns off CMA single-copy, which cannot cross namespaces).
      assert.doesNotMatch(r.stderr, /WARNING|ERROR/, show(r));
    });
  }

  test("mpirun -np 2 burrow run --join: both ranks in one container, and CMA single-copy works between them", async () => {
    const over = os.availableParallelism() < 2 ? ["--oversubscribe"] : [];
    const rank = (join: string[]) => [
      "burrow",
      "run",
      ...join,
      "-v",
      `${work}:/work`,
      image,
      "/work/pingpong",
    ];
    // The job asks for CMA itself: joined ranks share one user namespace, where process_vm_readv works.
    const cma = ["-x", "OMPI_MCA_btl_vader_single_copy_mechanism=cma"];
    const joined = await asUser(["mpirun", ...over, ...cma, "-np", "2", ...rank(["--join"])], userEnv());
    assert.equal(joined.code, 0, show(joined));
    const ns = [...joined.stdout.matchAll(/^rank (\d) userns (\S+)$/gm)].map((m) => m[2]);
    assert.equal(ns.length, 2, show(joined));
    assert.equal(ns[0], ns[1], `the ranks report the same user namespace: ${show(joined)}`);
    assert.match(joined.stdout, /^rank 1 received 4194304 bytes intact$/m);
    assert.doesNotMatch(joined.stderr, /WARNING|ERROR|process_vm_readv|errno/i, show(joined));
    // BURROW_JOIN=1 asks the same of every rank of a job step; burrow no longer turns CMA off there.
    const auto = await asUser(["mpirun", ...over, "-np", "2", ...rank([])], userEnv({ BURROW_JOIN: "1" }));
    assert.equal(auto.code, 0, show(auto));
    const ns2 = [...auto.stdout.matchAll(/^rank (\d) userns (\S+)$/gm)].map((m) => m[2]);
    assert.equal(ns2[0], ns2[1], show(auto));
    assert.doesNotMatch(auto.stderr, /WARNING|ERROR/, show(auto));
    // Apart (no --join), each rank has its own user namespace, and the 4 MiB message goes through shared
    // memory all the same (each rank's pid is its own: Open MPI tells segments apart by their creator's pid).
    const apart = await asUser(["mpirun", ...over, "-np", "2", ...rank([])], userEnv());
    assert.equal(apart.code, 0, show(apart));
    const ns3 = [...apart.stdout.matchAll(/^rank (\d) userns (\S+)$/gm)].map((m) => m[2]);
    assert.notEqual(ns3[0], ns3[1], show(apart));
    assert.match(apart.stdout, /^rank 1 received 4194304 bytes intact$/m);
    assert.doesNotMatch(apart.stderr, /WARNING|ERROR/, show(apart));
  });

  test("srun --mpi=pmix -n 2 burrow run IMAGE /work/hello prints both ranks, per engine", async (t) => {
    const srun = await findProgram("srun");
    assert.ok(srun, "srun is missing: the harness installs slurm-client");
    slurm = await startSlurm((l) => process.stdout.write(`# ${l}\n`), { cpus: 4 });
    const env = userEnv(slurm.env);
    const list = await asUser(["srun", "--mpi=list"], env);
    // Debian 12's slurm-wlm-basic-plugins ships mpi/pmix (PMIx v4); a Slurm without it cannot run this.
    if (!/\bpmix\b/.test(list.stdout + list.stderr)) {
      t.skip(`this Slurm has no PMIx plugin (srun --mpi=list: ${(list.stdout + list.stderr).trim()})`);
      return;
    }
    for (const engine of TEST_ENGINES) {
      const r = await asUser(["srun", "--mpi=pmix", "-n", "2", ...rankArgv(engine)], env, 180_000);
      if (r.code !== 0) t.diagnostic(await slurm.logs(40));
      expectBothRanks(r);
      assert.doesNotMatch(r.stderr, /WARNING|ERROR/, `${engine}: ${show(r)}`);
    }
  });
});
