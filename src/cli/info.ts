// `burrow info`: what burrow can do on this machine: version, platform, store, kernel, engines and why.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BurrowCommand } from "./base.js";
import { formatOption, outputFormat } from "./output-format.js";
import type { EngineReport } from "../engine-registry.js";
import { printableJson } from "./printable.js";

/** Filesystem magic numbers (statfs f_type) that tell the cgroup layout. */
const CGROUP2_SUPER_MAGIC = 0x63677270;
const CGROUP_SUPER_MAGIC = 0x27e0eb;
const TMPFS_MAGIC = 0x01021994;

/** The cgroup layout: v2 (unified), hybrid (v1 with a v2 tree at unified/), v1, or none mounted. */
export type CgroupVersion = "v2" | "hybrid" | "v1" | "none";

/** Whether a kernel release such as `6.1.0-18-amd64` is at least `major.minor`. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** The cgroup layout from the file system types at /sys/fs/cgroup and /sys/fs/cgroup/unified. */
export function cgroupVersion(fsType: (dir: string) => number | undefined): CgroupVersion {
  const top = fsType("/sys/fs/cgroup");
  if (top === CGROUP2_SUPER_MAGIC) return "v2";
  if (top === TMPFS_MAGIC) return fsType("/sys/fs/cgroup/unified") === CGROUP2_SUPER_MAGIC ? "hybrid" : "v1";
  if (top === CGROUP_SUPER_MAGIC) return "v1";
  return "none";
}

/** The statfs type of `dir`, or undefined when it cannot be read. */
function statfsType(dir: string): number | undefined {
  try {
    return Number(fs.statfsSync(dir).type);
  } catch {
    return undefined;
  }
}

/** The v2 cgroup of this process from `/proc/self/cgroup` text (the `0::PATH` line). */
export function unifiedCgroupPath(procSelfCgroup: string): string | undefined {
  const line = procSelfCgroup.split("\n").find((l) => l.startsWith("0::"));
  return line?.slice(3).trim() || undefined;
}

/** Whether the user may manage its own v2 cgroup (resource limits without root). */
function cgroupDelegated(version: CgroupVersion): boolean {
  if (version !== "v2" && version !== "hybrid") return false;
  try {
    const rel = unifiedCgroupPath(fs.readFileSync("/proc/self/cgroup", "utf8"));
    if (rel === undefined) return false;
    const base = version === "v2" ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
    fs.accessSync(path.join(base, rel, "cgroup.subtree_control"), fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `name` is an executable on PATH. */
function onPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? "").split(":")) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Everything `burrow info` reports, as the JSON output has it. */
export interface InfoReport {
  version: string;
  platform: string;
  node: string;
  kernel: string;
  store: string;
  userNamespaces: {
    /** null: unknown (no helper to try them with, and no setting forbids them). */
    allowed: boolean | null;
    maxUserNamespaces: number | null;
    unprivilegedUsernsClone: number | null;
    apparmorRestrictUnprivilegedUserns: number | null;
  };
  overlayInUserns: boolean;
  fuseOverlayfs: string | null;
  /** Whether images in the squashfs format work here (README: SquashFS images), and how. */
  squashfs: {
    how: "mounted" | "unpacked" | "no";
    why: string;
    squashfuse: string | null;
    mksquashfs: string | null;
  };
  cgroup: { version: CgroupVersion; delegated: boolean };
  defaultEngine: { name: string | null; source: string };
  engines: {
    name: string;
    usable: boolean;
    binary: string | null;
    version: string | null;
    reason: string | null;
  }[];
}

/** Prints burrow's version, the platform, the store, the kernel's abilities and each engine's probe. */
export class InfoCommand extends BurrowCommand {
  static override paths = [["info"]];
  static override usage = BurrowCommand.Usage({
    description: "Show the platform, the store and which engines can run here (and why not)",
    details: `
      Probes every engine the way \`burrow run\` does and prints whether it can run here, the binary it would use, its version, and otherwise the reason, with the kernel facts behind it: user namespaces, overlayfs inside them (Linux 5.11+), the cgroup layout.
    `,
    examples: [
      ["Show what burrow can do here", "$0 info"],
      ["As JSON", "$0 info --format json"],
    ],
  });

  format = formatOption();

  async run(): Promise<number> {
    const format = outputFormat(this.format);
    const report = await this.gather();
    if (format === "json") {
      this.context.stdout.write(printableJson(report) + "\n");
      return 0;
    }
    this.context.stdout.write(formatInfo(report));
    return 0;
  }

  /** Collects the report (probes run in parallel). */
  private async gather(): Promise<InfoReport> {
    const config = await this.config();
    const { packageVersion } = await import("../package-info.js");
    const { engineNames, probeAll, requestedEngine } = await import("../engine-registry.js");
    const { readUsernsSysctls, sysctlBlock } = await import("../../engines/common/userns-sysctl.js");
    const reports: EngineReport[] = await probeAll({ storeRoot: config.storeDir, env: this.context.env });
    const sysctls = readUsernsSysctls();
    const kernel = os.release();
    const cgroup = cgroupVersion(statfsType);
    const userns = reports.find((r) => r.name === "userns");
    const asked = requestedEngine({
      env: this.context.env.BURROW_ENGINE,
      config: config.engine,
      storeRoot: undefined,
    });
    const firstUsable = reports.find((r) => r.probe.ok);
    return {
      version: packageVersion(),
      platform: `${process.platform}-${process.arch}`,
      node: process.version,
      kernel,
      store: config.storeDir,
      userNamespaces: {
        allowed: usernsAllowed(userns?.probe, sysctlBlock(sysctls, process.getuid?.() === 0) !== undefined),
        maxUserNamespaces: sysctls.maxUserNamespaces ?? null,
        unprivilegedUsernsClone: sysctls.unprivilegedUsernsClone ?? null,
        apparmorRestrictUnprivilegedUserns: sysctls.apparmorRestrict ?? null,
      },
      overlayInUserns: kernelAtLeast(kernel, 5, 11),
      fuseOverlayfs: onPath("fuse-overlayfs", this.context.env.PATH) ?? null,
      squashfs: await squashfsSupport(this.context.env, config.storeDir, userns?.probe.ok === true),
      cgroup: { version: cgroup, delegated: cgroupDelegated(cgroup) },
      defaultEngine: asked
        ? {
            name: asked.name,
            source:
              (asked.source === "env" ? "BURROW_ENGINE" : "config file") +
              (engineNames.includes(asked.name)
                ? ""
                : `; unknown engine: use one of ${engineNames.join(", ")}`),
          }
        : { name: firstUsable?.name ?? null, source: "first usable" },
      engines: reports.map(({ name, probe }) => ({
        name,
        usable: probe.ok,
        binary: probe.binary ?? null,
        version: probe.ok ? probe.version : null,
        reason: probe.ok ? null : probe.reason,
      })),
    };
  }
}

/** Whether SquashFS images can be made (mksquashfs) and mounted in the containers (userns, SquashFUSE, /dev/fuse). */
async function squashfsSupport(
  env: NodeJS.ProcessEnv,
  storeRoot: string,
  usernsUsable: boolean,
): Promise<InfoReport["squashfs"]> {
  const { findSquashTool } = await import("../store/squashfs.js");
  const { fuseOpenToUser } = await import("../run/overlay.js");
  const mksquashfs = (await findSquashTool("mksquashfs", env, storeRoot)) ?? null;
  const squashfuse = (await findSquashTool("squashfuse", env, storeRoot)) ?? null;
  const unsquashfs = (await findSquashTool("unsquashfs", env, storeRoot)) ?? null;
  const tools = { squashfuse, mksquashfs };
  if (mksquashfs === null)
    return { how: "no", why: "mksquashfs is not found to make them (install squashfs-tools)", ...tools };
  const blocker = !usernsUsable
    ? "the userns engine cannot run here"
    : squashfuse === null
      ? "SquashFUSE is not found (install squashfuse)"
      : !fuseOpenToUser()
        ? "/dev/fuse is not open to you (udev makes it 0666)"
        : undefined;
  if (blocker === undefined) {
    const { sharedSquashfsMounts } = await import("../kernel.js");
    const shared = sharedSquashfsMounts((await import("node:os")).release())
      ? "one mount per image on this node, shared by its runs (userns and runc engines)"
      : "each run its own mount (this kernel has no open_tree, Linux 5.2)";
    return { how: "mounted", why: `in the containers with ${squashfuse}, ${shared}`, ...tools };
  }
  if (unsquashfs === null)
    return { how: "no", why: `${blocker}, and unsquashfs is not found to unpack them`, ...tools };
  return { how: "unpacked", why: `once per node (${blocker})`, ...tools };
}

/** Whether user namespaces work: the userns probe's answer, else what the settings say (null: unknown). */
export function usernsAllowed(
  probe: EngineReport["probe"] | undefined,
  blockedBySysctl: boolean,
): boolean | null {
  if (probe?.ok) return true;
  if (blockedBySysctl) return false;
  // A probe that found its helper ran it: its failure is the answer. Without a helper nobody tried.
  return probe?.binary !== undefined ? false : null;
}

/** The human-readable form of the report. */
export function formatInfo(r: InfoReport): string {
  const yes = (b: boolean | null): string =>
    b === null ? "unknown (the userns helper is not built)" : b ? "yes" : "no";
  const sysctl = (name: string, v: number | null): string | undefined =>
    v === null ? undefined : `${name}=${v}`;
  const settings = [
    sysctl("user.max_user_namespaces", r.userNamespaces.maxUserNamespaces),
    sysctl("kernel.unprivileged_userns_clone", r.userNamespaces.unprivilegedUsernsClone),
    sysctl(
      "kernel.apparmor_restrict_unprivileged_userns",
      r.userNamespaces.apparmorRestrictUnprivilegedUserns,
    ),
  ].filter((s) => s !== undefined);
  const rows: [string, string][] = [
    ["burrow", r.version],
    ["platform", `${r.platform} (node ${r.node})`],
    ["kernel", r.kernel],
    ["store", r.store],
    [
      "user namespaces",
      `${yes(r.userNamespaces.allowed)}${settings.length ? ` (${settings.join(", ")})` : ""}`,
    ],
    ["overlay in userns", r.overlayInUserns ? "likely (kernel 5.11 or later)" : "no (kernel before 5.11)"],
    ["fuse-overlayfs", r.fuseOverlayfs ?? "not found"],
    ["squashfs images", `${r.squashfs.how}: ${r.squashfs.why}`],
    [
      "cgroup",
      r.cgroup.version === "none"
        ? "none mounted"
        : `${r.cgroup.version}, delegated to you: ${yes(r.cgroup.delegated)}`,
    ],
    ["default engine", `${r.defaultEngine.name ?? "none usable"} (${r.defaultEngine.source})`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`);
  lines.push("engines:");
  for (const e of r.engines) {
    lines.push(`  ${e.name}: ${e.usable ? "usable" : "unusable"}`);
    if (e.binary !== null) lines.push(`    binary:  ${e.binary}`);
    if (e.version !== null) lines.push(`    version: ${e.version}`);
    if (e.reason !== null) lines.push(`    reason:  ${e.reason}`);
  }
  return lines.join("\n") + "\n";
}
