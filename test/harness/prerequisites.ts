// Checks the programs the tests need and, as root on Debian, installs the packages that provide them.
import fs from "node:fs";
import { onPath, runProgram } from "./proc.js";

/** A Debian package the tests need and the programs that show it is installed. */
export interface Prerequisite {
  pkg: string;
  programs: string[];
  /** Files that show it is installed, for a package without a program of its own (absolute paths). */
  files?: string[];
  why: string;
}

/** The Debian multiarch triplet of this machine (where libraries live under /usr/lib). */
const MULTIARCH = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";

/** Everything the harness and the integration tests run besides node. */
export const PREREQUISITES: Prerequisite[] = [
  { pkg: "docker-registry", programs: ["docker-registry"], why: "the real registry the tests pull from" },
  { pkg: "skopeo", programs: ["skopeo"], why: "reads back and copies images in tests" },
  { pkg: "apache2-utils", programs: ["htpasswd"], why: "the bcrypt password file of the auth registry" },
  { pkg: "openssl", programs: ["openssl"], why: "the test CA and server certificates" },
  { pkg: "zstd", programs: ["zstd"], why: "zstd-compressed test layers" },
  { pkg: "pigz", programs: ["pigz"], why: "parallel gzip, used by the code under test where present" },
  { pkg: "gzip", programs: ["gzip"], why: "gzip-compressed test layers" },
  { pkg: "util-linux", programs: ["setpriv", "runuser"], why: "runs the CLI as the unprivileged user" },
  { pkg: "umoci", programs: ["umoci"], why: "OCI image layouts in tests" },
  {
    pkg: "fuse-overlayfs",
    programs: ["fuse-overlayfs"],
    why: "the private layer where the kernel's overlay cannot mount (run-layer.test)",
  },
  {
    pkg: "squashfs-tools",
    programs: ["mksquashfs", "unsquashfs"],
    why: "packs and unpacks SquashFS images (squashfs.test)",
  },
  {
    pkg: "squashfuse",
    programs: ["squashfuse", "squashfuse_ll"],
    why: "mounts SquashFS images inside the containers (squashfs.test)",
  },
  {
    pkg: "fuse3",
    programs: ["fusermount3"],
    why: "unmounts the host mount that reads a SquashFS file's facts",
  },
  { pkg: "make", programs: ["make"], why: "builds the userns engine's helper, burrow-ns" },
  { pkg: "gcc", programs: ["gcc"], why: "compiles burrow-ns" },
  {
    pkg: "libc6-dev",
    // It ships no program to look for: it is installed along with gcc (which only recommends it,
    // and recommends are not installed here).
    programs: ["gcc"],
    why: "libc and Linux headers and the static libc burrow-ns links with",
  },
  {
    pkg: "munge",
    programs: ["munged"],
    why: "authentication of the test Slurm cluster (test/harness/slurm.ts)",
  },
  { pkg: "slurmctld", programs: ["slurmctld"], why: "the test Slurm cluster's controller" },
  { pkg: "slurmd", programs: ["slurmd", "slurmstepd"], why: "the test Slurm cluster's node daemon" },
  {
    pkg: "slurm-client",
    programs: ["sbatch", "srun", "squeue", "sinfo", "scancel"],
    why: "submits and watches the Slurm test jobs",
  },
  {
    pkg: "openmpi-bin",
    programs: ["mpirun", "orterun"],
    why: "the host's Open MPI launcher of the MPI tests (Debian 12: 4.1.4, as in the test image)",
  },
  {
    pkg: "libpmix-bin",
    programs: ["pmix_info"],
    why: "PMIx tools, to report the host's PMIx in the MPI tests",
  },
  {
    pkg: "libpmix-dev",
    programs: [],
    // Slurm's mpi/pmix plugin dlopens the unversioned libpmix.so, which only the -dev package ships.
    files: [`/usr/lib/${MULTIARCH}/pmix2/lib/libpmix.so`],
    why: "srun --mpi=pmix: Slurm's PMIx plugin loads libpmix.so",
  },
  { pkg: "debootstrap", programs: ["debootstrap"], why: "builds the Debian test images" },
  {
    pkg: "podman",
    programs: ["podman"],
    why: "the reference `podman build --isolation=chroot` that burrow build is compared with (build-podman.test)",
  },
  { pkg: "runc", programs: ["runc"], why: "the runc engine, which every per-engine suite runs" },
  {
    pkg: "uidmap",
    programs: ["newuidmap", "newgidmap"],
    why: "burrow build's namespace of subordinate ids, in which RUN steps give files real owners (build.test)",
  },
  {
    pkg: "proot",
    programs: ["proot"],
    why: "Debian's PRoot 5.1.0, which has no port mapping: -p is refused with it (network-limits.test)",
  },
  {
    pkg: "slirp4netns",
    programs: ["slirp4netns"],
    why: "run --network slirp and -p (network-limits.test)",
  },
];

/** Directories searched besides PATH: root's tools live in sbin, which a user's PATH may lack. */
const SEARCH_PATH = [
  process.env.PATH ?? "",
  "/usr/local/sbin",
  "/usr/local/bin",
  "/usr/sbin",
  "/usr/bin",
  "/sbin",
  "/bin",
]
  .filter(Boolean)
  .join(":");

/** The absolute path of `program`, searching PATH and the sbin directories. */
export async function findProgram(program: string): Promise<string | undefined> {
  return onPath(program, SEARCH_PATH);
}

/** The prerequisites whose programs are not all found. */
export async function missingPrerequisites(list = PREREQUISITES): Promise<Prerequisite[]> {
  const found = await Promise.all(
    list.map(
      async (p) =>
        (await Promise.all(p.programs.map(findProgram))).every(Boolean) &&
        (p.files ?? []).every((f) => fs.existsSync(f)),
    ),
  );
  return list.filter((_, i) => !found[i]);
}

/**
 * Makes sure every prerequisite is present. As root, installs the missing packages with apt-get
 * (one `apt-get update` first); otherwise throws an error naming the packages to install.
 */
export async function ensurePrerequisites(log: (line: string) => void): Promise<void> {
  const missing = await missingPrerequisites();
  if (missing.length === 0) {
    log(`packages: ${PREREQUISITES.map((p) => p.pkg).join(", ")} present`);
    return;
  }
  const names = missing.map((p) => p.pkg);
  const details = missing
    .map((p) => `  ${p.pkg} (${[...p.programs, ...(p.files ?? [])].join(", ")}): ${p.why}`)
    .join("\n");
  const isRoot = process.getuid?.() === 0;
  const aptGet = await findProgram("apt-get");
  if (!isRoot || !aptGet) {
    const how = isRoot
      ? "apt-get is not available here; install them with the system's package manager"
      : `run as root: apt-get install ${names.join(" ")}`;
    throw new Error(`missing test prerequisites:\n${details}\n${how}`);
  }
  log(`packages: installing ${names.join(" ")} (apt-get update, then apt-get install)`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive", PATH: SEARCH_PATH };
  const started = Date.now();
  await runProgram(aptGet, ["update"], { env });
  await runProgram(aptGet, ["install", "-y", "--no-install-recommends", ...names], { env });
  const still = await missingPrerequisites(missing);
  if (still.length > 0) {
    throw new Error(
      `apt-get installed ${names.join(" ")} but these programs are still missing: ` +
        still.flatMap((p) => [...p.programs, ...(p.files ?? [])]).join(", "),
    );
  }
  log(`packages: installed ${names.join(" ")} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
