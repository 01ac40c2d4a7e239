// `burrow run --device`: Container Device Interface specs (JSON or YAML in /etc/cdi and /var/run/cdi, or
// the folders in BURROW_CDI_DIRS) and host device paths, turned into binds and variables for the RunSpec.
// Field names follow the CDI specification (cdiVersion, kind, devices[].name, containerEdits: env,
// deviceNodes, mounts, hooks, additionalGids). Nothing here needs root: device nodes are bound from the
// host (an unprivileged user cannot mknod), hooks are not run (see `hookEdits`).
import fs from "node:fs";
import path from "node:path";
import type { MountSpec } from "../engine-interface.js";
import { InvalidArgumentError } from "../errors.js";
// Types only (erased): the package itself is imported when a YAML spec is read.
import type * as YAML from "yaml";

/** What devices add to a run: binds, variables, library and program folders, notes for `--debug`. */
export interface DeviceEdits {
  /** Binds (device nodes, libraries, programs) and tmpfs mounts, before the user's volumes. */
  mounts: MountSpec[];
  /** Variables set over the image's (`-e` and `--env-file` still win). */
  env: [string, string][];
  /** Folders put in front of the image's LD_LIBRARY_PATH. */
  libraryPath: string[];
  /** Folders added at the end of the image's PATH (when missing from it). */
  binPath: string[];
  /** What was left out and why (hooks, extra groups), for `--debug`. */
  notes: string[];
}

/** An empty set of edits. */
export function emptyEdits(): DeviceEdits {
  return { mounts: [], env: [], libraryPath: [], binPath: [], notes: [] };
}

/** Adds `from` to `into`: a later mount at the same destination replaces an earlier one. */
export function mergeEdits(into: DeviceEdits, from: DeviceEdits): DeviceEdits {
  for (const m of from.mounts) {
    const i = into.mounts.findIndex((x) => x.destination === m.destination);
    if (i >= 0) into.mounts.splice(i, 1);
    into.mounts.push(m);
  }
  into.env.push(...from.env);
  for (const d of from.libraryPath) if (!into.libraryPath.includes(d)) into.libraryPath.push(d);
  for (const d of from.binPath) if (!into.binPath.includes(d)) into.binPath.push(d);
  into.notes.push(...from.notes);
  return into;
}

/**
 * Applies `edits` to a run's environment (over the image's variables; the names in `fromFlags`, set by
 * `-e` or `--env-file`, are left as the user set them) and mounts (before the user's volumes, so that
 * `-v` may still replace one).
 */
export function applyDeviceEdits(
  edits: DeviceEdits,
  env: Map<string, string>,
  mounts: MountSpec[],
  fromFlags: ReadonlySet<string> = new Set(),
): void {
  for (const [k, v] of edits.env) if (!fromFlags.has(k)) env.set(k, v);
  if (edits.libraryPath.length > 0 && !fromFlags.has("LD_LIBRARY_PATH")) {
    const old = (env.get("LD_LIBRARY_PATH") ?? "").split(":").filter((d) => d !== "");
    const dirs = [...edits.libraryPath, ...old.filter((d) => !edits.libraryPath.includes(d))];
    env.set("LD_LIBRARY_PATH", dirs.join(":"));
  }
  if (edits.binPath.length > 0 && !fromFlags.has("PATH")) {
    const old = (env.get("PATH") ?? "").split(":").filter((d) => d !== "");
    env.set("PATH", [...old, ...edits.binPath.filter((d) => !old.includes(d))].join(":"));
  }
  mounts.push(...edits.mounts);
}

/**
 * The edits as `engine` can apply them. PRoot has no read-only binds: there the device, library and
 * program binds are made writable, which gives nothing away (PRoot runs with the user's own rights, so
 * what the user cannot write on the host, such as the driver's files, stays unwritable).
 */
export function forEngine(edits: DeviceEdits, engine: string): DeviceEdits {
  if (engine !== "proot" || !edits.mounts.some((m) => m.kind === "bind" && m.readonly)) return edits;
  return {
    ...edits,
    mounts: edits.mounts.map((m) => (m.kind === "bind" && m.readonly ? { ...m, readonly: false } : m)),
    notes: [...edits.notes, "proot: device binds are not read-only (PRoot has no read-only binds)"],
  };
}

/** What the host file system is asked (tests give stand-ins). */
export interface HostFs {
  /** The kind of what `p` names (symlinks followed), undefined when missing. */
  kind(p: string): "char" | "block" | "file" | "dir" | "other" | undefined;
  /** The names in folder `dir`, [] when it cannot be read. */
  list(dir: string): string[];
  /** `p` with every symlink resolved, undefined when it cannot be. */
  realpath(p: string): string | undefined;
}

/** The real host file system. */
export const hostFs: HostFs = {
  kind(p) {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isCharacterDevice()) return "char";
    if (st.isBlockDevice()) return "block";
    if (st.isFile()) return "file";
    if (st.isDirectory()) return "dir";
    return "other";
  },
  list(dir) {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  },
  realpath(p) {
    try {
      return fs.realpathSync(p);
    } catch {
      return undefined;
    }
  },
};

/**
 * The other names a shared library has in its host folder: the symlinks there that lead to the same
 * file (libcuda.so.1 and libcuda.so for libcuda.so.550.54). ldconfig would make the soname links inside
 * the container; without root and a writable ld cache, binding the file under those names too does it.
 */
export function libraryAliases(hostFile: string, host: HostFs): string[] {
  const real = host.realpath(hostFile);
  if (real === undefined) return [];
  const dir = path.dirname(hostFile);
  const own = path.basename(hostFile);
  const stem = own.replace(/\.so(\..*)?$/, ".so");
  return host
    .list(dir)
    .filter((n) => n !== own && n.startsWith(stem) && host.realpath(path.join(dir, n)) === real)
    .sort();
}

// ---------------------------------------------------------------------------------------------------
// Device names on the command line

/** One `--device` value, read. */
export type DeviceRequest =
  | { kind: "cdi"; vendorClass: string; name: string }
  | { kind: "host"; hostPath: string; containerPath: string };

const VENDOR = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const CLASS = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const DEVICE_NAME = /^[A-Za-z0-9]([A-Za-z0-9._:-]*[A-Za-z0-9])?$/;

/** Whether `kind` is a valid CDI kind, `vendor.com/class`. */
export function isCdiKind(kind: string): boolean {
  const slash = kind.indexOf("/");
  return slash > 0 && VENDOR.test(kind.slice(0, slash)) && CLASS.test(kind.slice(slash + 1));
}

/**
 * Reads one `--device` value: `VENDOR/CLASS=NAME` (a CDI device; NAME `all` takes every device of the
 * kind) or docker's `HOSTPATH[:CONTAINERPATH[:PERMISSIONS]]` for a host device node.
 */
export function parseDeviceRequest(value: string): DeviceRequest {
  if (value.startsWith("/")) {
    const [hostPath, containerPath, perms, ...rest] = value.split(":");
    const bad = (why: string): InvalidArgumentError =>
      new InvalidArgumentError(`invalid --device "${value}": ${why}`);
    if (rest.length > 0) throw bad("give HOSTPATH[:CONTAINERPATH[:PERMISSIONS]]");
    if (containerPath !== undefined && !path.posix.isAbsolute(containerPath))
      throw bad("the container path must be absolute");
    if (perms !== undefined && !/^[rwm]+$/.test(perms))
      throw bad("the permissions are letters among r, w and m");
    return {
      kind: "host",
      hostPath: path.posix.normalize(hostPath!),
      containerPath: path.posix.normalize(containerPath || hostPath!),
    };
  }
  const eq = value.indexOf("=");
  const vendorClass = eq > 0 ? value.slice(0, eq) : "";
  const name = eq > 0 ? value.slice(eq + 1) : "";
  if (!isCdiKind(vendorClass) || !DEVICE_NAME.test(name)) {
    throw new InvalidArgumentError(
      `invalid --device "${value}": give a CDI device VENDOR/CLASS=NAME (e.g. nvidia.com/gpu=all) or a host device path`,
    );
  }
  return { kind: "cdi", vendorClass, name };
}

// ---------------------------------------------------------------------------------------------------
// Spec files

interface CdiDeviceNode {
  path: string;
  hostPath?: string | undefined;
  permissions?: string | undefined;
}
interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string | undefined;
  options: string[];
}
interface CdiHook {
  hookName: string;
  path: string;
  args: string[];
}
/** The edits of a spec or one of its devices, checked. */
export interface CdiEdits {
  env: string[];
  deviceNodes: CdiDeviceNode[];
  mounts: CdiMount[];
  hooks: CdiHook[];
  additionalGids: number[];
  /** Fields burrow does not apply (intelRdt, netDevices). */
  ignored: string[];
}
/** One spec file, checked. */
export interface CdiSpec {
  file: string;
  cdiVersion: string;
  kind: string;
  devices: { name: string; edits: CdiEdits }[];
  edits: CdiEdits;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks a parsed spec file; throws InvalidArgumentError naming the file and the field. */
export function checkSpec(raw: unknown, file: string): CdiSpec {
  const bad = (what: string): InvalidArgumentError =>
    new InvalidArgumentError(`CDI spec ${file}: ${what}: fix or remove the file`);
  if (!isObject(raw)) throw bad("not a mapping of cdiVersion, kind and devices");
  if (typeof raw.cdiVersion !== "string" || !/^\d+\.\d+\.\d+/.test(raw.cdiVersion))
    throw bad("cdiVersion is missing or not a version (e.g. 0.6.0)");
  if (typeof raw.kind !== "string" || !isCdiKind(raw.kind))
    throw bad(`kind ${JSON.stringify(raw.kind)} is not VENDOR/CLASS`);
  if (!Array.isArray(raw.devices)) throw bad("devices is missing or not a list");

  const strings = (v: unknown, where: string): string[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string"))
      throw bad(`${where} is not a list of strings`);
    return v as string[];
  };
  const absolute = (v: unknown, where: string): string => {
    if (typeof v !== "string" || !path.posix.isAbsolute(v)) throw bad(`${where} is not an absolute path`);
    return path.posix.normalize(v);
  };
  const list = (v: unknown, where: string): unknown[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw bad(`${where} is not a list`);
    return v;
  };
  const edits = (v: unknown, where: string): CdiEdits => {
    if (v === undefined || v === null) v = {};
    if (!isObject(v)) throw bad(`${where} is not a mapping`);
    const env = strings(v.env, `${where}.env`);
    for (const e of env) if (e.indexOf("=") <= 0) throw bad(`${where}.env entry "${e}" is not NAME=VALUE`);
    const deviceNodes = list(v.deviceNodes, `${where}.deviceNodes`).map((d, i): CdiDeviceNode => {
      const at = `${where}.deviceNodes[${i}]`;
      if (!isObject(d)) throw bad(`${at} is not a mapping`);
      if (d.permissions !== undefined && typeof d.permissions !== "string")
        throw bad(`${at}.permissions is not a string`);
      return {
        path: absolute(d.path, `${at}.path`),
        hostPath:
          d.hostPath === undefined || d.hostPath === "" ? undefined : absolute(d.hostPath, `${at}.hostPath`),
        permissions: d.permissions,
      };
    });
    const mounts = list(v.mounts, `${where}.mounts`).map((m, i): CdiMount => {
      const at = `${where}.mounts[${i}]`;
      if (!isObject(m)) throw bad(`${at} is not a mapping`);
      if (m.type !== undefined && typeof m.type !== "string") throw bad(`${at}.type is not a string`);
      return {
        hostPath: absolute(m.hostPath, `${at}.hostPath`),
        containerPath: absolute(m.containerPath, `${at}.containerPath`),
        type: m.type,
        options: strings(m.options, `${at}.options`),
      };
    });
    const hooks = list(v.hooks, `${where}.hooks`).map((h, i): CdiHook => {
      const at = `${where}.hooks[${i}]`;
      if (!isObject(h)) throw bad(`${at} is not a mapping`);
      if (typeof h.hookName !== "string") throw bad(`${at}.hookName is missing`);
      return {
        hookName: h.hookName,
        path: absolute(h.path, `${at}.path`),
        args: strings(h.args, `${at}.args`),
      };
    });
    const gids = list(v.additionalGids, `${where}.additionalGids`);
    if (!gids.every((g) => Number.isInteger(g) && (g as number) >= 0))
      throw bad(`${where}.additionalGids is not a list of group ids`);
    const ignored = ["intelRdt", "netDevices"].filter((k) => v[k] !== undefined && v[k] !== null);
    return { env, deviceNodes, mounts, hooks, additionalGids: gids as number[], ignored };
  };

  const names = new Set<string>();
  const devices = raw.devices.map((d, i) => {
    if (!isObject(d)) throw bad(`devices[${i}] is not a mapping`);
    if (typeof d.name !== "string" || !DEVICE_NAME.test(d.name) || d.name === "all")
      throw bad(`devices[${i}].name ${JSON.stringify(d.name)} is not a valid device name`);
    if (names.has(d.name)) throw bad(`device ${d.name} is named twice`);
    names.add(d.name);
    return { name: d.name, edits: edits(d.containerEdits, `devices[${i}].containerEdits`) };
  });
  return {
    file,
    cdiVersion: raw.cdiVersion,
    kind: raw.kind,
    devices,
    edits: edits(raw.containerEdits, "containerEdits"),
  };
}

/** The spec folders, lowest priority first: BURROW_CDI_DIRS (colon list), else /etc/cdi and /var/run/cdi. */
export function cdiDirs(env: NodeJS.ProcessEnv): string[] {
  const own = env.BURROW_CDI_DIRS;
  if (own !== undefined && own !== "") return own.split(":").filter((d) => d !== "");
  return ["/etc/cdi", "/var/run/cdi"];
}

/** The specs found, and the files that could not be read or checked (with why). */
export interface LoadedSpecs {
  specs: CdiSpec[];
  broken: { file: string; error: Error }[];
}

/** Reads every `*.json` and `*.yaml` (`*.yml`) spec in `dirs`; the yaml package is loaded only for YAML files. */
export async function loadSpecs(dirs: string[]): Promise<LoadedSpecs> {
  const out: LoadedSpecs = { specs: [], broken: [] };
  let yaml: typeof YAML | undefined;
  for (const dir of dirs) {
    const names = hostFs
      .list(dir)
      .filter((n) => /\.(json|ya?ml)$/.test(n))
      .sort();
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        const text = fs.readFileSync(file, "utf8");
        let raw: unknown;
        try {
          if (name.endsWith(".json")) raw = JSON.parse(text);
          else {
            yaml ??= await import("yaml");
            raw = yaml.parse(text, { prettyErrors: false });
          }
        } catch (err) {
          const first = ((err as Error).message ?? String(err)).split("\n")[0];
          throw new InvalidArgumentError(
            `CDI spec ${file}: cannot be parsed (${first}): fix or remove the file`,
            {
              cause: err,
            },
          );
        }
        out.specs.push(checkSpec(raw, file));
      } catch (err) {
        out.broken.push({ file, error: err as Error });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// From specs to edits

/**
 * What a spec's hooks can still give without running them: `update-ldcache` (NVIDIA's toolkit) makes the
 * libraries in its `--folder`s findable, which LD_LIBRARY_PATH and soname binds do; others (they run on
 * the host as root around the container's creation) are left out with a note.
 */
function hookEdits(hooks: CdiHook[], label: string, edits: DeviceEdits): string[] {
  const folders: string[] = [];
  for (const h of hooks) {
    const i = h.args.indexOf("update-ldcache");
    if (i >= 0 || path.basename(h.path) === "update-ldcache") {
      for (let j = 0; j < h.args.length; j++) {
        const a = h.args[j]!;
        if (a === "--folder" && h.args[j + 1] !== undefined) folders.push(h.args[++j]!);
        else if (a.startsWith("--folder=")) folders.push(a.slice("--folder=".length));
      }
      edits.notes.push(`${label}: hook update-ldcache given as LD_LIBRARY_PATH=${folders.join(":")}`);
      continue;
    }
    edits.notes.push(
      `${label}: ${h.hookName} hook ${[h.path, ...h.args.slice(1)].join(" ")} left out (hooks need root)`,
    );
  }
  return folders.map((f) => path.posix.normalize(f));
}

/** The run edits of one spec's (or device's) containerEdits. */
export function editsOf(e: CdiEdits, label: string, host: HostFs = hostFs): DeviceEdits {
  const out = emptyEdits();
  for (const kv of e.env) {
    const eq = kv.indexOf("=");
    out.env.push([kv.slice(0, eq), kv.slice(eq + 1)]);
  }
  for (const d of e.deviceNodes) {
    const source = d.hostPath ?? d.path;
    const kind = host.kind(source);
    if (kind === undefined)
      throw new InvalidArgumentError(`${label}: device node ${source} does not exist on this host`);
    if (kind !== "char" && kind !== "block")
      throw new InvalidArgumentError(`${label}: ${source} is not a device node`);
    out.mounts.push({ kind: "bind", source, destination: d.path, readonly: false, create: true });
  }
  for (const m of e.mounts) {
    const type = m.type ?? (m.options.some((o) => o === "bind" || o === "rbind") ? "bind" : undefined);
    if (type === "tmpfs") {
      const size = m.options.find((o) => o.startsWith("size="))?.slice(5);
      const mode = m.options.find((o) => o.startsWith("mode="))?.slice(5);
      out.mounts.push({
        kind: "tmpfs",
        destination: m.containerPath,
        ...(size !== undefined ? { size } : {}),
        ...(mode !== undefined && /^[0-7]+$/.test(mode) ? { mode: parseInt(mode, 8) } : {}),
      });
      continue;
    }
    if (type !== undefined && type !== "bind" && type !== "rbind")
      throw new InvalidArgumentError(
        `${label}: mount ${m.containerPath} has type ${type}, which burrow cannot mount without root (bind and tmpfs only)`,
      );
    if (host.kind(m.hostPath) === undefined)
      throw new InvalidArgumentError(`${label}: mount source ${m.hostPath} does not exist on this host`);
    const ro = m.options.lastIndexOf("ro") > m.options.lastIndexOf("rw");
    out.mounts.push({
      kind: "bind",
      source: m.hostPath,
      destination: m.containerPath,
      readonly: ro,
      create: true,
    });
  }
  const folders = hookEdits(e.hooks, label, out);
  if (folders.length > 0) {
    out.libraryPath.push(...folders);
    // The soname links ldconfig would make in those folders: the same files bound under those names.
    const taken = new Set(out.mounts.map((m) => m.destination));
    for (const m of [...out.mounts]) {
      if (m.kind !== "bind" || !folders.includes(path.posix.dirname(m.destination))) continue;
      if (!/\.so(\.|$)/.test(path.basename(m.destination))) continue;
      for (const alias of libraryAliases(m.source, host)) {
        const destination = path.posix.join(path.posix.dirname(m.destination), alias);
        if (taken.has(destination)) continue;
        taken.add(destination);
        out.mounts.push({ ...m, destination });
      }
    }
  }
  if (e.additionalGids.length > 0)
    out.notes.push(
      `${label}: additionalGids ${e.additionalGids.join(",")} ignored (a rootless run keeps your own groups)`,
    );
  for (const k of e.ignored) out.notes.push(`${label}: ${k} ignored (needs root)`);
  return out;
}

/** Where specs were looked for, for messages. */
const where = (dirs: string[]): string => dirs.join(", ");

/**
 * The edits of the CDI devices `requests` name, from `loaded` (lowest priority first: a device named
 * in a later file replaces an earlier one). Throws InvalidArgumentError for an unknown kind or name; a
 * spec that cannot be read is an error only when it may hold what was asked for (or when nothing does).
 */
export function cdiEdits(
  requests: { vendorClass: string; name: string }[],
  loaded: LoadedSpecs,
  dirs: string[],
  host: HostFs = hostFs,
): DeviceEdits {
  const out = emptyEdits();
  const usedSpecs = new Set<CdiSpec>();
  const seen = new Set<string>();
  const brokenLine = (): string =>
    loaded.broken.length > 0 ? ` (and ${loaded.broken[0]!.error.message})` : "";
  for (const req of requests) {
    const specs = loaded.specs.filter((s) => s.kind === req.vendorClass);
    const qualified = `${req.vendorClass}=${req.name}`;
    if (specs.length === 0) {
      if (loaded.broken.length > 0) throw loaded.broken[0]!.error;
      throw new InvalidArgumentError(
        `unknown CDI device ${qualified}: no spec in ${where(dirs)} is of kind ${req.vendorClass} (set BURROW_CDI_DIRS to look elsewhere)`,
      );
    }
    // By name, the later file winning.
    const byName = new Map<string, { spec: CdiSpec; edits: CdiEdits }>();
    for (const s of specs) for (const d of s.devices) byName.set(d.name, { spec: s, edits: d.edits });
    const picked =
      req.name === "all"
        ? [...byName]
        : byName.has(req.name)
          ? [[req.name, byName.get(req.name)!] as const]
          : [];
    if (picked.length === 0) {
      const known = [...byName.keys()].sort().join(", ") || "none";
      throw new InvalidArgumentError(
        `unknown CDI device ${qualified}: the specs of kind ${req.vendorClass} name ${known}${brokenLine()}`,
      );
    }
    for (const [name, { spec, edits }] of picked) {
      const label = `CDI device ${req.vendorClass}=${name}`;
      if (seen.has(label)) continue;
      seen.add(label);
      if (!usedSpecs.has(spec)) {
        usedSpecs.add(spec);
        mergeEdits(out, editsOf(spec.edits, `CDI spec ${spec.file}`, host));
      }
      mergeEdits(out, editsOf(edits, label, host));
    }
  }
  for (const b of loaded.broken) out.notes.push(b.error.message);
  return out;
}

/** The edits of host device paths (`--device /dev/X[:/dev/Y]`): each bound at its place inside. */
export function hostDeviceEdits(
  requests: { hostPath: string; containerPath: string }[],
  host: HostFs = hostFs,
): DeviceEdits {
  const out = emptyEdits();
  for (const r of requests) {
    const kind = host.kind(r.hostPath);
    if (kind === undefined)
      throw new InvalidArgumentError(`--device ${r.hostPath}: no such device on this host`);
    if (kind !== "char" && kind !== "block")
      throw new InvalidArgumentError(`--device ${r.hostPath}: not a device node (bind files with -v)`);
    out.mounts.push({
      kind: "bind",
      source: r.hostPath,
      destination: r.containerPath,
      readonly: false,
      create: true,
    });
  }
  return out;
}

/** The run options devices come from. */
export interface DeviceOptions {
  gpu: boolean;
  devices: string[];
}

/**
 * Everything `--gpu` and `--device` add to a run, resolved on the host before anything else happens (a
 * missing device fails before any pull). `debug` gets one line per note.
 */
export async function resolveDevices(
  opts: DeviceOptions,
  env: NodeJS.ProcessEnv,
  debug?: (line: string) => void,
): Promise<DeviceEdits> {
  const out = emptyEdits();
  const requests = opts.devices.map(parseDeviceRequest);
  if (opts.gpu) {
    const { discoverGpu, gpuEdits, hostGpuSources } = await import("./gpu.js");
    const found = discoverGpu(hostGpuSources(env, debug));
    mergeEdits(out, gpuEdits(found));
  }
  const cdi = requests.flatMap((r) => (r.kind === "cdi" ? [r] : []));
  if (cdi.length > 0) {
    const dirs = cdiDirs(env);
    mergeEdits(out, cdiEdits(cdi, await loadSpecs(dirs), dirs));
  }
  mergeEdits(out, hostDeviceEdits(requests.flatMap((r) => (r.kind === "host" ? [r] : []))));
  for (const n of out.notes) debug?.(n);
  return out;
}
