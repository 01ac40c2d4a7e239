// The hybrid MPI model's rules: which host variables reach the program, and which folders are bound for PMIx.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isJobVar, isRendezvousVar, jobEnv, rendezvousDirs } from "../../../src/run/env.js";
import { jobMounts } from "../../../src/run/plan-inputs.js";
import { planRunSpec } from "../../../src/run/plan-spec.js";
import type { RunOptions } from "../../../src/run/options.js";
import { hostUser as host, planInputs, runOptions } from "./plan-data.js";

const temps: string[] = [];
const tmp = (prefix: string): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
};
after(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

test("scheduler and MPI variables pass through; others, and look-alike names, do not", () => {
  for (const k of [
    "SLURM_JOB_ID",
    "SLURM_PROCID",
    "SLURMD_NODENAME",
    "PMI_RANK",
    "PMI_FD",
    "PMIX_RANK",
    "PMIX_SERVER_URI4",
    "OMPI_COMM_WORLD_RANK",
    "OMPI_MCA_btl",
    "OPAL_PREFIX",
    "PRTE_MCA_prte_tmpdir_base",
    "UCX_TLS",
    "HYDRA_LAUNCHER",
    "I_MPI_PMI_LIBRARY",
  ])
    assert.ok(isJobVar(k), k);
  for (const k of [
    "PATH",
    "HOME",
    "SLURM",
    "PMIXX",
    "OMPI",
    "MY_SLURM_JOB",
    "I_MPIX",
    "LD_LIBRARY_PATH",
    "TMPDIR",
  ])
    assert.ok(!isJobVar(k), k);
});

test("jobEnv keeps the host's order and values, and is empty for a plain environment", () => {
  const host = { PATH: "/bin", SLURM_JOB_ID: "7", HOME: "/h", PMIX_RANK: "1", OMPI_MCA_btl: "self,vader" };
  assert.deepEqual(jobEnv(host), [
    ["SLURM_JOB_ID", "7"],
    ["PMIX_RANK", "1"],
    ["OMPI_MCA_btl", "self,vader"],
  ]);
  assert.deepEqual(jobEnv({ PATH: "/bin", HOME: "/h", TERM: "xterm" }), []);
});

test("rendezvous variables: PMIx tmpdirs and data store, Open MPI/PRRTE session folders and tmpdirs", () => {
  for (const k of [
    "PMIX_SERVER_TMPDIR",
    "PMIX_SYSTEM_TMPDIR",
    "PMIX_DSTORE_21_BASE_PATH",
    "PMIX_DSTORE_ESH_BASE_PATH",
    "OMPI_MCA_orte_tmpdir_base",
    "OMPI_MCA_orte_top_session_dir",
    "OMPI_MCA_orte_jobfam_session_dir",
    "PRTE_MCA_prte_tmpdir_base",
  ])
    assert.ok(isRendezvousVar(k), k);
  for (const k of ["PMIX_SERVER_URI4", "OMPI_MCA_btl", "PMIX_NAMESPACE", "SLURM_JOB_ID", "TMPDIR"])
    assert.ok(!isRendezvousVar(k), k);
});

test("rendezvousDirs: existing absolute folders, outermost only, never / or a shared temp folder whole", () => {
  const dirs = new Set([
    "/tmp/ompi.n1.1001",
    "/tmp/ompi.n1.1001/pid.42",
    "/var/spool/slurmd/pmix.5.0",
    "/tmp",
  ]);
  const isDir = (p: string): boolean => dirs.has(p);
  const host = {
    // What mpirun (Open MPI 4.1, PMIx 4.2) gives each rank.
    PMIX_SERVER_TMPDIR: "/tmp/ompi.n1.1001/pid.42",
    PMIX_SYSTEM_TMPDIR: "/tmp",
    PMIX_DSTORE_21_BASE_PATH: "/tmp/ompi.n1.1001/pid.42/pmix_dstor_ds21_42",
    OMPI_MCA_orte_top_session_dir: "/tmp/ompi.n1.1001/",
    OMPI_MCA_orte_tmpdir_base: "/tmp",
    // Slurm's pmix plugin.
    SLURM_PMIX_X: "/ignored",
    PMIX_MCA_gds_tmpdir: "/var/spool/slurmd/pmix.5.0/./",
    // Relative, missing, or not a rendezvous variable: ignored.
    OMPI_MCA_foo_tmpdir: "relative/dir",
    PRTE_MCA_prte_tmpdir_base: "/does/not/exist",
    OMPI_MCA_btl: "/tmp/ompi.n1.1001",
    HOME: "/home/me",
  };
  assert.deepEqual(rendezvousDirs(host, isDir), ["/tmp/ompi.n1.1001", "/var/spool/slurmd/pmix.5.0"]);
  assert.deepEqual(
    rendezvousDirs({ PMIX_SYSTEM_TMPDIR: "/", OMPI_MCA_x_tmpdir: "/tmp/../" }, () => true),
    [],
  );
  assert.deepEqual(
    rendezvousDirs({ PATH: "/bin" }, () => true),
    [],
  );
});

test("jobMounts binds the rendezvous folders at the same path and the host's /dev/shm with sysdirs", () => {
  const session = tmp("ompi.session-");
  const mounts = jobMounts({ PMIX_SERVER_TMPDIR: session, PMIX_RANK: "0" }, true);
  assert.deepEqual(mounts, [
    { kind: "bind", source: "/dev/shm", destination: "/dev/shm", readonly: false },
    { kind: "bind", source: session, destination: session, readonly: false, create: true },
  ]);
  // --nosysdirs: no private /dev to replace; the container's /dev/shm is whatever the image has.
  assert.deepEqual(
    jobMounts({ PMIX_SERVER_TMPDIR: session }, false).map((m) => m.destination),
    [session],
  );
});

/** The plan of `/hello` in an image, for a host environment (its job's folders bound, as read on the host). */
function plan(hostEnv: NodeJS.ProcessEnv, extra: Partial<RunOptions> = {}) {
  return planRunSpec(
    planInputs({
      config: { Env: ["PATH=/usr/bin:/bin", "OMPI_MCA_btl=^openib", "UCX_TLS=rc"] },
      options: runOptions({ args: ["/hello"], ...extra }),
      host: { ...planInputs().host, env: hostEnv, user: host },
      jobMounts: jobEnv(hostEnv).length > 0 ? jobMounts(hostEnv, true) : [],
    }),
  ).spec;
}

test("planRunSpec: the host's job variables come after the image's Env and before -e, which wins", () => {
  const session = tmp("ompi.vm.1234-");
  const spec = plan(
    {
      PATH: "/host/bin",
      HOME: "/home/me",
      SLURM_JOB_ID: "42",
      PMIX_RANK: "1",
      PMIX_SERVER_TMPDIR: session,
      OMPI_MCA_btl: "self,vader",
      UCX_TLS: "tcp",
    },
    { env: ["UCX_TLS=sm", "PMIX_RANK"] },
  );
  const env = new Map(spec.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  assert.equal(env.get("PATH"), "/usr/bin:/bin", "PATH stays the image's");
  assert.equal(env.get("SLURM_JOB_ID"), "42");
  assert.equal(env.get("PMIX_SERVER_TMPDIR"), session);
  assert.equal(env.get("OMPI_MCA_btl"), "self,vader", "the host's launcher wins over the image's Env");
  assert.equal(env.get("UCX_TLS"), "sm", "-e wins over the host");
  assert.equal(env.get("PMIX_RANK"), "1");
  const binds = spec.mounts.filter((m) => m.kind === "bind").map((m) => m.destination);
  assert.deepEqual(binds, ["/dev/shm", session]);
});

test("planRunSpec: a plain run gets no job variables and keeps its private /dev/shm", () => {
  const spec = plan({ PATH: "/host/bin", HOME: "/home/me", TMPDIR: "/tmp" });
  assert.ok(!spec.env.some((e) => /^(SLURM|PMIX|PMI)_/.test(e)));
  assert.ok(spec.env.includes("OMPI_MCA_btl=^openib"), "the image's own Env stays");
  assert.deepEqual(spec.mounts, []);
});

test("planRunSpec: in a PMIx job a rank runs as the host user unless -u says otherwise", () => {
  const pmix = { PMIX_RANK: "0", PMIX_NAMESPACE: "4242" };
  const rank = plan(pmix);
  assert.deepEqual([rank.uid, rank.gid, rank.fakeRoot], [1234, 1234, false]);
  const root = plan(pmix, { user: "0" });
  assert.deepEqual([root.uid, root.fakeRoot], [0, true]);
  // Slurm alone (srun without --mpi=pmix) and plain runs keep the image's user.
  assert.equal(plan({ SLURM_JOB_ID: "1", SLURM_PROCID: "0" }).uid, 0);
  assert.equal(plan({}).uid, 0);
});

test("planRunSpec: an MPI rank gets Open MPI's CMA single-copy turned off unless the image, host or -e set it", () => {
  const KEY = "OMPI_MCA_btl_vader_single_copy_mechanism";
  const value = (spec: { env: string[] }): string | undefined =>
    spec.env.find((e) => e.startsWith(`${KEY}=`))?.slice(KEY.length + 1);
  assert.equal(value(plan({ PMIX_RANK: "1" })), "none");
  assert.equal(value(plan({ OMPI_COMM_WORLD_SIZE: "2" })), "none");
  assert.equal(value(plan({ PMIX_RANK: "1", [KEY]: "cma" })), "cma");
  assert.equal(value(plan({ PMIX_RANK: "1" }, { env: [`${KEY}=xpmem`] })), "xpmem");
  assert.equal(value(plan({ SLURM_JOB_ID: "3" })), undefined);
  assert.equal(value(plan({})), undefined);
});
