// `burrow run --gpu` (`--nv`): finds the host's NVIDIA device nodes, driver libraries and programs, and
// turns them into read-only binds at the places CUDA images expect (as the NVIDIA container toolkit and
// Apptainer's --nv do): libraries in /usr/local/nvidia/lib64 (put in front of LD_LIBRARY_PATH),
// programs in /usr/local/nvidia/bin (added to PATH), device nodes at their own paths. Discovery asks
// `nvidia-container-cli list` when it is installed and works, else the linker cache (`ldconfig -p`) by
// name and PATH for the programs. Every source is injectable (GpuSources) so tests use stand-ins.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { emptyEdits, hostFs, libraryAliases } from "./cdi.js";
import type { DeviceEdits, HostFs } from "./cdi.js";

/** Where the driver's libraries and programs go inside the container. */
export const GPU_LIB_DIR = "/usr/local/nvidia/lib64";
export const GPU_BIN_DIR = "/usr/local/nvidia/bin";

/** The driver's programs worth having inside (Apptainer's nvliblist.conf names the same). */
export const GPU_BINARIES = [
  "nvidia-smi",
  "nvidia-debugdump",
  "nvidia-persistenced",
  "nvidia-cuda-mps-control",
  "nvidia-cuda-mps-server",
];

/** Driver libraries by name (the toolkit's list: compute, video, graphics, ML, OptiX, debugger). */
const DRIVER_LIBRARY =
  /^(libcuda|libcudadebugger|libnvcuvid|libnvoptix|libnvidia-(?!container)[A-Za-z0-9_.-]+|libGLX_nvidia|libEGL_nvidia|libGLESv2_nvidia|libGLESv1_CM_nvidia|libvdpau_nvidia|libOpenCL_nvidia)\.so(\.[0-9.]+)?$/;

/** Whether `name` (a file name) is one of the driver's libraries. */
export function isDriverLibrary(name: string): boolean {
  return DRIVER_LIBRARY.test(name);
}

/** Device node names in /dev that belong to the driver. */
const DEVICE_NAME = /^nvidia([0-9]+|ctl|-uvm|-uvm-tools|-modeset)$/;

/** Where discovery looks; the real host by default (hostGpuSources), stand-ins in tests. */
export interface GpuSources {
  /** The folder holding the device nodes (`/dev`). */
  devDir: string;
  fs: HostFs;
  /** `nvidia-container-cli list` output, undefined when it is not installed or fails. */
  containerCli(): string | undefined;
  /** `ldconfig -p` output ("" when it cannot run). */
  ldconfig(): string;
  /** The path of a program on PATH, or undefined. */
  which(name: string): string | undefined;
  /** Node's process.arch (picks the 64-bit libraries out of the linker cache). */
  arch: string;
  debug?: ((line: string) => void) | undefined;
}

/** What --gpu found on the host. */
export interface GpuDiscovery {
  /** Device nodes (host paths, bound at the same place). */
  devices: string[];
  /** Libraries: the name inside and the host file. */
  libraries: { name: string; hostPath: string }[];
  /** Programs (host paths). */
  binaries: string[];
  /** Sockets and pipes of the driver's daemons (persistenced, MPS), bound at the same place when present. */
  ipcs: string[];
  source: "nvidia-container-cli" | "ldconfig";
}

/** The device nodes under `devDir`: nvidia0..N, nvidiactl, nvidia-uvm(-tools), nvidia-modeset, nvidia-caps/*. */
export function gpuDeviceNodes(src: Pick<GpuSources, "devDir" | "fs">): string[] {
  const isDev = (p: string): boolean => {
    const k = src.fs.kind(p);
    return k === "char" || k === "block";
  };
  const found = src.fs
    .list(src.devDir)
    .filter((n) => DEVICE_NAME.test(n))
    .map((n) => path.join(src.devDir, n))
    .filter(isDev);
  const caps = path.join(src.devDir, "nvidia-caps");
  if (src.fs.kind(caps) === "dir") {
    found.push(
      ...src.fs
        .list(caps)
        .map((n) => path.join(caps, n))
        .filter(isDev),
    );
  }
  // The shared nodes by path, then the GPUs in number order: stable for messages and tests.
  const rank = (p: string): string => {
    const m = /nvidia([0-9]+)$/.exec(p);
    return m ? `1${m[1]!.padStart(6, "0")}` : `0${p}`;
  };
  return found.sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0));
}

/** The ldconfig ABI tag of 64-bit libraries on `arch`, undefined to take every entry. */
function abiTag(arch: string): RegExp | undefined {
  if (arch === "x64") return /x86-64/;
  if (arch === "arm64") return /AArch64/;
  if (arch === "ppc64" || arch === "riscv64" || arch === "s390x") return /64/;
  return undefined;
}

/** The driver libraries in `ldconfig -p` output: name in the cache -> host path, one per name, this ABI. */
export function librariesFromLdconfig(output: string, arch: string): { name: string; hostPath: string }[] {
  const tag = abiTag(arch);
  const seen = new Set<string>();
  const out: { name: string; hostPath: string }[] = [];
  for (const line of output.split("\n")) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\/\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, name, flags, hostPath] = m as unknown as [string, string, string, string];
    if (!isDriverLibrary(name) || seen.has(name)) continue;
    if (tag && !tag.test(flags)) continue;
    seen.add(name);
    out.push({ name, hostPath });
  }
  return out;
}

/** `nvidia-container-cli list` output, sorted by kind from each path. */
export function parseContainerCliList(output: string): {
  devices: string[];
  libraries: string[];
  binaries: string[];
  ipcs: string[];
} {
  const out = {
    devices: [] as string[],
    libraries: [] as string[],
    binaries: [] as string[],
    ipcs: [] as string[],
  };
  for (const raw of output.split("\n")) {
    const p = raw.trim();
    if (!p.startsWith("/")) continue;
    if (p.startsWith("/dev/")) out.devices.push(p);
    else if (/\.so(\.|$)/.test(path.basename(p))) out.libraries.push(p);
    else if (/(^|\/)(socket|nvidia-mps)$/.test(p) || p.startsWith("/run/") || p.startsWith("/var/run/"))
      out.ipcs.push(p);
    else if (/(^|\/)lib\/firmware\//.test(p)) continue;
    else out.binaries.push(p);
  }
  return out;
}

/**
 * What the host offers for --gpu. Throws InvalidArgumentError (125) when it has no NVIDIA device node:
 * there is nothing to give the container.
 */
export function discoverGpu(src: GpuSources): GpuDiscovery {
  const devices = gpuDeviceNodes(src);
  if (devices.length === 0)
    throw new InvalidArgumentError(`--gpu: no NVIDIA device nodes (${src.devDir}/nvidia*) on this host`);

  const cli = src.containerCli();
  if (cli !== undefined) {
    const listed = parseContainerCliList(cli);
    if (listed.libraries.length > 0) {
      const libraries: { name: string; hostPath: string }[] = [];
      const names = new Set<string>();
      for (const file of listed.libraries) {
        for (const name of [path.basename(file), ...libraryAliases(file, src.fs)]) {
          if (names.has(name)) continue;
          names.add(name);
          libraries.push({ name, hostPath: file });
        }
      }
      for (const d of listed.devices)
        if (!devices.includes(d) && src.fs.kind(d) !== undefined) devices.push(d);
      return {
        devices,
        libraries,
        binaries: listed.binaries,
        ipcs: listed.ipcs,
        source: "nvidia-container-cli",
      };
    }
    src.debug?.("--gpu: nvidia-container-cli listed no libraries: using the linker cache");
  }

  const libraries = librariesFromLdconfig(src.ldconfig(), src.arch).filter(
    (l) => src.fs.kind(l.hostPath) !== undefined,
  );
  const binaries = GPU_BINARIES.flatMap((b) => src.which(b) ?? []);
  const ipcs = ["/var/run/nvidia-persistenced/socket"].filter((p) => src.fs.kind(p) !== undefined);
  if (libraries.length === 0)
    src.debug?.(
      "--gpu: no NVIDIA driver library in the linker cache (ldconfig -p): only the devices are bound",
    );
  return { devices, libraries, binaries, ipcs, source: "ldconfig" };
}

/** The binds and variables of what --gpu found. */
export function gpuEdits(found: GpuDiscovery): DeviceEdits {
  const out = emptyEdits();
  for (const d of found.devices)
    out.mounts.push({ kind: "bind", source: d, destination: d, readonly: false, create: true });
  for (const l of found.libraries)
    out.mounts.push({
      kind: "bind",
      source: l.hostPath,
      destination: path.posix.join(GPU_LIB_DIR, l.name),
      readonly: true,
      create: true,
    });
  for (const b of found.binaries)
    out.mounts.push({
      kind: "bind",
      source: b,
      destination: path.posix.join(GPU_BIN_DIR, path.basename(b)),
      readonly: true,
      create: true,
    });
  for (const p of found.ipcs)
    out.mounts.push({
      kind: "bind",
      source: p,
      destination: p,
      readonly: false,
      create: true,
      optional: true,
    });
  if (found.libraries.length > 0) out.libraryPath.push(GPU_LIB_DIR);
  if (found.binaries.length > 0) out.binPath.push(GPU_BIN_DIR);
  out.notes.push(
    `--gpu: ${found.devices.length} device nodes, ${found.libraries.length} libraries, ${found.binaries.length} programs (from ${found.source})`,
  );
  return out;
}

/** Runs a program and returns its stdout, undefined when it is missing or fails. */
function output(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 20_000,
    });
  } catch {
    return undefined;
  }
}

/** The real host's sources. */
export function hostGpuSources(env: NodeJS.ProcessEnv, debug?: (line: string) => void): GpuSources {
  const dirs = (env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(":").filter((d) => path.isAbsolute(d));
  const which = (name: string): string | undefined => {
    for (const d of [...dirs, "/usr/bin", "/usr/sbin", "/sbin", "/bin"]) {
      const p = path.join(d, name);
      if (hostFs.kind(p) === "file") return p;
    }
    return undefined;
  };
  return {
    devDir: "/dev",
    fs: hostFs,
    arch: process.arch,
    debug,
    containerCli() {
      const cli = which("nvidia-container-cli");
      if (cli === undefined) return undefined;
      // Unprivileged, it must be told to drop to the caller (--user) rather than to root's choice.
      const root = process.getuid?.() === 0;
      const text = output(cli, [...(root ? [] : ["--user"]), "list", "--libraries", "--binaries", "--ipcs"]);
      if (text === undefined) debug?.(`--gpu: ${cli} list failed: using the linker cache`);
      return text;
    },
    ldconfig() {
      const ldconfig = which("ldconfig") ?? "ldconfig";
      return output(ldconfig, ["-p"]) ?? "";
    },
    which,
  };
}
