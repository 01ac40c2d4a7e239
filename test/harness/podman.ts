// Podman as the reference builder: `podman build --isolation=chroot` as root with a private storage
// folder (never /var/lib/containers), bases pulled from the harness's plain registry, results pushed there.
import fsp from "node:fs/promises";
import path from "node:path";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";
import type { ProcResult } from "./proc.js";
import { removeTree } from "./remove-tree.js";

/** A Podman with its own storage; `remove()` deletes it all. */
export interface PrivatePodman {
  /** Runs `podman --root ... --runroot ... ARGS`; never throws on a failing status. */
  podman(args: string[], opts?: { cwd?: string; timeoutMs?: number }): Promise<ProcResult>;
  /** `podman build --isolation=chroot` of `context` tagged `tag`; throws with Podman's output when it fails. */
  build(context: string, tag: string, opts?: PodmanBuildOptions): Promise<ProcResult>;
  /** `podman push --tls-verify=false TAG` (to a plain-HTTP registry); throws when it fails. */
  push(tag: string): Promise<void>;
  /** Removes the storage (and unmounts what Podman left mounted in it). */
  remove(): Promise<void>;
}

/** What `build` passes on. */
export interface PodmanBuildOptions {
  buildArgs?: Record<string, string>;
  target?: string;
  dockerfile?: string;
  /** --layers=false --no-cache (the bench's setting); the tests keep Podman's default. */
  noCache?: boolean;
}

/** Why Podman cannot be the reference here, or undefined when it can (root, and the program is there). */
export async function podmanUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return "podman build --isolation=chroot runs as root here, and the tests are not root";
  if (!(await findProgram("podman"))) return "podman is not installed (Debian package podman)";
  return undefined;
}

/** A Podman whose storage lives in a new temporary folder. */
export async function privatePodman(): Promise<PrivatePodman> {
  // In /tmp itself, not TMPDIR: Podman refuses a --runroot path longer than 50 characters.
  const dir = await fsp.mkdtemp("/tmp/podman-");
  const base = [
    "--root",
    path.join(dir, "root"),
    "--runroot",
    path.join(dir, "run"),
    "--storage-driver",
    process.env.BURROW_TEST_PODMAN_DRIVER ?? "overlay",
  ];
  // A registries.conf of our own: no search registries, nothing from the host's configuration.
  const conf = path.join(dir, "registries.conf");
  await fsp.writeFile(conf, 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
  const env = { ...process.env, CONTAINERS_REGISTRIES_CONF: conf, BUILDAH_ISOLATION: "chroot" };
  const podman: PrivatePodman["podman"] = (args, opts = {}) =>
    runProgram("podman", [...base, ...args], {
      env,
      allowFailure: true,
      timeoutMs: opts.timeoutMs ?? 600_000,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
  const must = async (args: string[], timeoutMs?: number): Promise<ProcResult> => {
    const r = await podman(args, timeoutMs === undefined ? {} : { timeoutMs });
    if (r.code !== 0)
      throw new Error(`podman ${args.join(" ")} exited with ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  return {
    podman,
    build: (context, tag, opts = {}) =>
      must([
        "build",
        "--isolation=chroot",
        "--tls-verify=false",
        "--pull=missing",
        ...(opts.noCache ? ["--no-cache", "--layers=false"] : []),
        ...Object.entries(opts.buildArgs ?? {}).flatMap(([k, v]) => ["--build-arg", `${k}=${v}`]),
        ...(opts.target ? ["--target", opts.target] : []),
        ...(opts.dockerfile ? ["-f", opts.dockerfile] : []),
        "-t",
        tag,
        context,
      ]),
    push: async (tag) => {
      await must(["push", "--tls-verify=false", tag], 300_000);
    },
    remove: async () => {
      await podman(["system", "reset", "--force"], { timeoutMs: 120_000 }).catch(() => undefined);
      await removeTree(dir);
    },
  };
}
