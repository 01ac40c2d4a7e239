// The engine-neutral run plan (`RunSpec`) and the interface every engine in engines/ implements.

/** One mount the container gets, planned by the run path; engines translate it, never change it. */
export type MountSpec =
  | {
      kind: "bind";
      /** Absolute host path (file or directory). */
      source: string;
      /** Absolute path inside the container. */
      destination: string;
      readonly: boolean;
      /** Skip silently when the source does not exist (e.g. /etc/resolv.conf on odd hosts). */
      optional?: boolean;
      /** Create the destination when it is missing (a file for a file source, a dir for a dir). */
      create?: boolean;
    }
  | {
      kind: "tmpfs";
      destination: string;
      size?: string;
      mode?: number;
      /** Programs may not be run from it (docker's default for `--tmpfs`); engines that cannot, refuse. */
      noexec?: boolean;
    };

/** How the container's root is made writable (or not). */
export type RootSpec =
  /** Use `path` directly: writes go into it (named containers, `--location`). */
  | { kind: "direct"; path: string; readonly: boolean }
  /**
   * `lower` (the shared image rootfs) stays untouched; writes go to `upper` (with `work` on the same
   * file system) through kernel overlayfs; `mountpoint` is an empty directory to mount it on.
   */
  | {
      kind: "overlay";
      lower: string;
      upper: string;
      work: string;
      mountpoint: string;
      /** Mount the root read-only once it is set up (`--read-only`): only mounts on it take writes. */
      readonly?: boolean;
      /** fuse-overlayfs to mount it with, where the kernel cannot (Engine.supportsFuseOverlay). */
      fuse?: string;
      /**
       * The image as one SquashFS file, mounted read-only at `lower` with `squashfuse` inside the container's
       * namespaces before the overlay (Engine.supportsSquashfs); `lower` is an empty folder until then.
       */
      squashfs?: { file: string; squashfuse: string; share?: string | undefined };
    };

/** A port published from the host to the container (`-p [IP:]HOSTPORT:CONTPORT[/PROTO]`). */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

/** The container's network: the host's (default), none (loopback only), or slirp (a private one). */
export interface NetworkSpec {
  mode: "host" | "none" | "slirp";
  /** Ports forwarded from the host (slirp; PRoot's own port mapping on the host network). */
  publish: PortMapping[];
  /** slirp: the host's 127.0.0.1 is reachable at 10.0.2.2 (off by default). */
  allowHostLoopback: boolean;
}

/** One resource limit (`--ulimit`): setrlimit's resource by its short name, values decimal or `unlimited`. */
export interface RlimitSpec {
  name: string;
  soft: string;
  hard: string;
}

/** cgroup v2 limits; `parent` is the delegated folder a run's own cgroup is made in. */
export interface CgroupLimits {
  /** Bytes (memory.max). */
  memory?: number;
  /** CPUs (cpu.max). */
  cpus?: number;
  /** Processes (pids.max). */
  pids?: number;
  parent?: string;
}

/** What the program is limited to. */
export interface LimitsSpec {
  /** CPU affinity list (`0-2,5`). */
  cpuset?: string | undefined;
  rlimits: RlimitSpec[];
  cgroup?: CgroupLimits;
}

/** Everything an engine needs to run one program. Engines never read the store, CLI or registry. */
export interface RunSpec {
  root: RootSpec;
  /** The program and its arguments (argv[0] is looked up in the container's PATH). */
  argv: string[];
  /** The complete environment of the program, as `K=V` strings. */
  env: string[];
  /** Working directory inside the container (absolute). */
  cwd: string;
  /** Ids inside the container. */
  uid: number;
  gid: number;
  /** Mounts in order, after the root and the system directories. */
  mounts: MountSpec[];
  /** Mount /proc, /dev (minimal), /sys, unless `--nosysdirs`. */
  sysdirs: boolean;
  /** A host name for a UTS namespace of the container's own; undefined keeps the host's. */
  hostname?: string | undefined;
  /** Give the program a terminal (stdin is one and `-t` was asked). */
  tty: boolean;
  /** Emulate root for package managers (chown and setuid families succeed). */
  fakeRoot: boolean;
  /**
   * The caller is root of a user namespace that maps the user's subordinate ids (`burrow build`'s):
   * an engine that can keeps it, so the program's ids, and the owners it gives files, are real.
   */
  realIds?: boolean | undefined;
  /** A pid namespace of the container's own (its /proc shows only its processes). */
  pidNamespace: boolean;
  /**
   * Others join this container (`run --join`'s first rank): it ends only once the processes that joined
   * it are gone too, not with its program (engine userns).
   */
  linger?: boolean | undefined;
  /**
   * The program's pid inside its pid namespace is the engine's own on the host (unique there), not 2: the
   * ranks of an MPI job in separate containers must not share a pid (Open MPI's shared memory tells its
   * own segments from a peer's by it). Engine userns.
   */
  hostPid?: boolean | undefined;
  /** `--network`/`-p`; undefined: the host's network, nothing published. */
  network?: NetworkSpec | undefined;
  /** `--cpuset-cpus`, `--ulimit`, `--memory`, `--cpus`, `--pids-limit`; undefined: none. */
  limits?: LimitsSpec | undefined;
}

/** What an engine's probe found: usable, or why not (one sentence a user can act on). */
export type ProbeResult =
  { ok: true; binary: string; version: string } | { ok: false; reason: string; binary?: string | undefined };

/** Streams and signals of the burrow process an engine runs the program with. */
export interface RunIO {
  /** Where the engine may keep per-run state (deleted by the caller afterwards). */
  scratch: string;
  /**
   * Whether the engine may remove `scratch` itself once the program is gone (the userns helper does,
   * faster than the caller's walk); the caller still removes whatever is left.
   */
  disposableScratch?: boolean;
  /** Environment of the burrow process itself (for binary overrides such as BURROW_PROOT). */
  env: NodeJS.ProcessEnv;
  /** Called once the program runs (a detached run records it: src/run/state.ts). */
  onStarted?: (started: EngineStarted) => void;
  /**
   * Called by the userns engine just before it starts its helper without anything beside it (no slirp,
   * no cgroup): the call a replay record keeps (src/run/replay-record.ts).
   */
  onHelper?: (call: { helper: string; args: string[]; env: string[] }) => void;
}

/** The processes of a running container, as the engine that started it reports them. */
export interface EngineStarted {
  /** The engine's own process (the helper, runc, proot): signals sent to it reach the program. */
  pid: number;
  /** A process inside the container whose namespaces and root `exec` joins (userns, runc). */
  initPid?: number | undefined;
  /** Engine-specific facts `exec` and `stop` need (runc: its state root, container id, binary). */
  handle?: Record<string, string> | undefined;
}

/** A running container, for `exec`: the spec it was started with and what its engine reported. */
export interface RunningContainer {
  spec: RunSpec;
  started: EngineStarted;
}

/** What `exec` runs inside a running container. */
export interface ExecSpec {
  argv: string[];
  /** The complete environment (the container's, then exec's `-e`). */
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  tty: boolean;
}

/** An execution engine: a plug-in folder in engines/ behind this interface. */
export interface Engine {
  readonly name: string;
  /** Whether it can mount a `RootSpec` of kind `overlay` (kernel overlayfs); else the run path copies. */
  readonly supportsOverlay?: boolean;
  /** Whether it can mount an overlay RootSpec's lower from a SquashFS file (`squashfs`) itself. */
  readonly supportsSquashfs?: boolean;
  /** Whether it can mount an overlay RootSpec with fuse-overlayfs (`fuse`) instead of the kernel. */
  readonly supportsFuseOverlay?: boolean;
  /** Whether it can run here, and if not, why, in one sentence. */
  probe(): Promise<ProbeResult>;
  /** Runs the spec with burrow's stdin/stdout/stderr; resolves to the program's exit status. */
  run(spec: RunSpec, io: RunIO): Promise<number>;
  /** Runs a program inside a running container (`burrow exec`); resolves to its exit status. */
  exec?(container: RunningContainer, exec: ExecSpec, io: RunIO): Promise<number>;
}
