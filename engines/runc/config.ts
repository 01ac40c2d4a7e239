// Translates an engine-neutral RunSpec into an OCI runtime config.json for rootless runc 1.1 (engines/runc/README.md).
import type { MountSpec, RunSpec } from "../../src/engine-interface.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { fakeRootSeccomp } from "./seccomp.js";
import type { OciSeccomp } from "./seccomp.js";

/** Where burrow-runc-init is bound inside the container (runc's private /dev tmpfs: nothing in the image changes). */
export const INIT_PATH = "/dev/.burrow-init";

/** One OCI mount. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** One OCI id mapping. */
export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** The part of the OCI runtime spec burrow writes (runtime-spec 1.0.2, as runc 1.1 reads it). */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    noNewPrivileges: boolean;
    capabilities: Record<"bounding" | "effective" | "permitted" | "inheritable", string[]>;
    /** `--ulimit`: applied by runc's init; -1 stands for unlimited until ociJson writes it. */
    rlimits?: { type: string; hard: number; soft: number }[];
  };
  root: { path: string; readonly: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: {
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    namespaces: { type: string }[];
    rootfsPropagation: string;
    seccomp?: OciSeccomp;
  };
}

/**
 * The OCI process of a run or an exec: always container root with every capability (a non-root user is
 * made by burrow-runc-init, see processArgs), no new privileges.
 */
export function ociProcess(
  args: string[],
  env: string[],
  cwd: string,
  terminal: boolean,
): OciConfig["process"] {
  return {
    terminal,
    user: { uid: 0, gid: 0 },
    args,
    env,
    cwd,
    noNewPrivileges: true,
    capabilities: {
      bounding: [...ALL_CAPABILITIES],
      effective: [...ALL_CAPABILITIES],
      permitted: [...ALL_CAPABILITIES],
      inheritable: [...ALL_CAPABILITIES],
    },
  };
}

/** What the bundle is made with besides the spec. */
export interface BundleOptions {
  /** The invoking user's ids on the host: container root maps to them (and nothing else does). */
  hostUid: number;
  hostGid: number;
  /** Host path of burrow-runc-init, or undefined when it is not built. */
  init: string | undefined;
  /** Give the program a terminal (spec.tty and stdin is one). */
  terminal: boolean;
  /** With `sysdirs` off: an empty host folder bound at /dev (runc fills an unmounted /dev with devices). */
  emptyDev: string;
  /** Node's architecture name, for the seccomp filter's ABIs. */
  arch: string;
  /** Whether a host path exists (for `optional` binds; tests feed answers). */
  exists: (file: string) => boolean;
}

/** Every capability Linux 5.9+ knows: container root gets them all, as in the userns engine (runc ignores unknown ones). */
export const ALL_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/** Escapes one overlay option value for the kernel: `\`, `,` and `:` get a backslash. */
export function escapeOverlayPath(p: string): string {
  return p.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/** A tmpfs mode as mount(8) takes it (octal). */
function octal(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`tmpfs mode ${mode} is not a permission mode (0 to 07777)`);
  }
  return mode.toString(8).padStart(4, "0");
}

/** The OCI mount of one planned mount, or undefined for an optional bind whose source is missing. */
export function ociMount(m: MountSpec, exists: (file: string) => boolean): OciMount | undefined {
  if (m.kind === "tmpfs") {
    const options = m.noexec === true ? ["nosuid", "nodev", "noexec"] : ["nosuid", "nodev"];
    if (m.size !== undefined) options.push(`size=${m.size}`);
    options.push(`mode=${octal(m.mode ?? 0o755)}`);
    return { destination: m.destination, type: "tmpfs", source: "tmpfs", options };
  }
  if (m.optional && !exists(m.source)) return undefined;
  // `rro`: read-only recursively (runc 1.1, mount_setattr), as the userns engine's `ro` binds.
  const options = m.readonly ? ["rbind", "ro", "rro"] : ["rbind", "rw"];
  return { destination: m.destination, type: "bind", source: m.source, options };
}

/** The system directories: a fresh /proc, a private /dev with the harmless devices, a read-only /sys. */
function sysMounts(spec: RunSpec): OciMount[] {
  const proc: OciMount = spec.pidNamespace
    ? { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "nodev", "noexec"] }
    : {
        destination: "/proc",
        type: "bind",
        source: "/proc",
        options: ["rbind", "nosuid", "nodev", "noexec"],
      };
  return [
    proc,
    // runc adds null, zero, full, random, urandom and tty (bound from the host when rootless),
    // the /dev/fd, stdin, stdout, stderr links and /dev/ptmx -> pts/ptmx.
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "nodev", "mode=1777"] },
    // A fresh sysfs needs a network namespace of its own: the host's, read-only recursively.
    {
      destination: "/sys",
      type: "bind",
      source: "/sys",
      options: ["rbind", "nosuid", "noexec", "nodev", "ro", "rro"],
    },
  ];
}

/**
 * How the program is started: directly, or through burrow-runc-init for a non-root user or group
 * (runc maps container root alone, so the user is made in a nested user namespace) and for a pid
 * namespace (the program must not be pid 1). Throws when runc cannot honour the spec.
 */
export function processArgs(spec: RunSpec, init: string | undefined): string[] {
  if (spec.argv.length === 0) throw new RangeError("the RunSpec has no program to run (argv is empty)");
  const nested = spec.uid !== 0 || spec.gid !== 0;
  const ids = `${spec.uid}:${spec.gid}`;
  if (nested && init === undefined) {
    throw new InvalidArgumentError(
      `engine runc cannot run as ${ids} (-u or the image's USER) without burrow-runc-init, which is not built: ` +
        "build it with `sh engines/runc/build.sh` (needs a C compiler and a static libc), or run as root, or use another engine",
    );
  }
  if (nested && !spec.sysdirs) {
    throw new InvalidArgumentError(
      `engine runc cannot combine --nosysdirs with the user ${ids}: it needs /proc to make a non-root user; use another engine or drop --nosysdirs`,
    );
  }
  if (!spec.sysdirs && init === undefined) {
    throw new InvalidArgumentError(
      "engine runc cannot honour --nosysdirs without burrow-runc-init (runc itself needs a /proc): " +
        "build it with `sh engines/runc/build.sh`, or use another engine",
    );
  }
  if (init === undefined || (!nested && spec.pidNamespace === false && spec.sysdirs)) return [...spec.argv];
  const args = [INIT_PATH];
  // runc needs a /proc until it execs the init; --nosysdirs wants none: the init detaches it.
  if (!spec.sysdirs) args.push("--unmount=/proc", "--drop=/dev/null", `--drop=${INIT_PATH}`);
  if (nested) args.push(`--uid=${spec.uid}`, `--gid=${spec.gid}`);
  // pid 1 of the container, on the lifeline (LIFELINE_FD): it leaves, taking the container down, when burrow is gone.
  if (spec.pidNamespace) args.push("--init", `--lifeline=${LIFELINE_FD}`);
  args.push("--", ...spec.argv);
  return args;
}

/** The descriptor runc passes on to the init (`--preserve-fds 1`): a socket whose other end burrow holds. */
export const LIFELINE_FD = 3;

/** Whether process args (processArgs) run the init on the lifeline, so that runc must pass it on. */
export function usesLifeline(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (
    args[0] === INIT_PATH && args.slice(0, end < 0 ? args.length : end).includes(`--lifeline=${LIFELINE_FD}`)
  );
}

/** The config.json that runs `spec` with rootless runc. */
export function ociConfig(spec: RunSpec, opts: BundleOptions): OciConfig {
  const args = processArgs(spec, opts.init);
  const usesInit = args[0] === INIT_PATH && opts.init !== undefined;
  const mounts: OciMount[] = [];
  let rootPath: string;
  let readonly = false;
  if (spec.root.kind === "overlay") {
    // runc mounts the overlay on the (empty) mount point before anything else: the root is the
    // overlay, mounted inside the container's user namespace (userxattr: Linux 5.11+).
    const r = spec.root;
    rootPath = r.mountpoint;
    readonly = r.readonly === true;
    mounts.push({
      destination: "/",
      type: "overlay",
      source: "overlay",
      options: [
        `lowerdir=${escapeOverlayPath(r.lower)}`,
        `upperdir=${escapeOverlayPath(r.upper)}`,
        `workdir=${escapeOverlayPath(r.work)}`,
        "userxattr",
      ],
    });
  } else {
    rootPath = spec.root.path;
    readonly = spec.root.readonly;
  }
  if (spec.sysdirs) mounts.push(...sysMounts(spec));
  else {
    // runc reads /proc/self/fd before it execs: the host's /proc (not recursive), which the init
    // detaches. Without a bind at /dev, runc puts device nodes into the image's /dev: an empty folder.
    mounts.push({
      destination: "/proc",
      type: "bind",
      source: "/proc",
      options: ["bind", "nosuid", "nodev", "noexec"],
    });
    mounts.push({ destination: "/dev", type: "bind", source: opts.emptyDev, options: ["rbind", "rw"] });
    mounts.push({ destination: "/dev/null", type: "bind", source: "/dev/null", options: ["bind", "rw"] });
  }
  if (usesInit) {
    mounts.push({ destination: INIT_PATH, type: "bind", source: opts.init!, options: ["bind", "ro"] });
  }
  for (const m of spec.mounts) {
    const mount = ociMount(m, opts.exists);
    if (mount) mounts.push(mount);
  }

  // A SquashFS image: runc runs in the user namespace of the node's shared mount of it (index.ts), which
  // maps container root to the caller as ours would: no user namespace of its own, no mappings.
  const inShared = spec.root.kind === "overlay" && spec.root.squashfs !== undefined;
  const namespaces = inShared
    ? [{ type: "mount" }, { type: "ipc" }]
    : [{ type: "user" }, { type: "mount" }, { type: "ipc" }];
  // --network none: a network namespace of its own, where runc brings lo up. (slirp is refused by the engine.)
  if (spec.network?.mode === "none") namespaces.push({ type: "network" });
  if (spec.pidNamespace) namespaces.push({ type: "pid" });
  if (spec.hostname !== undefined) namespaces.push({ type: "uts" });

  const config: OciConfig = {
    ociVersion: "1.0.2",
    process: ociProcess(args, [...spec.env], spec.cwd, opts.terminal),
    root: { path: rootPath, readonly },
    mounts,
    linux: {
      ...(inShared
        ? {}
        : {
            uidMappings: [{ containerID: 0, hostID: opts.hostUid, size: 1 }],
            gidMappings: [{ containerID: 0, hostID: opts.hostGid, size: 1 }],
          }),
      namespaces,
      // Host mounts that appear later under a bound folder still show inside; nothing leaks out.
      rootfsPropagation: "rslave",
    },
  };
  if (spec.hostname !== undefined) config.hostname = spec.hostname;
  if (spec.limits !== undefined && spec.limits.rlimits.length > 0) {
    const value = (v: string): number => (v === "unlimited" ? -1 : Number(v));
    config.process.rlimits = spec.limits.rlimits.map((r) => ({
      type: `RLIMIT_${r.name.toUpperCase()}`,
      hard: value(r.hard),
      soft: value(r.soft),
    }));
  }
  if (spec.fakeRoot) config.linux.seccomp = fakeRootSeccomp(opts.arch);
  return config;
}

/**
 * config.json's text: `unlimited` rlimits (held as -1) become RLIM_INFINITY, 2^64-1, which a JavaScript
 * number cannot carry exactly and runc reads as a uint64.
 */
export function ociJson(config: OciConfig): string {
  return JSON.stringify(config).replace(/"(hard|soft)":-1\b/g, '"$1":18446744073709551615');
}
