// The mount flags of `burrow run` parsed into planned mounts: `-v/--volume HOST[:CONTAINER[:ro|rw]]`, and
// docker's `--tmpfs PATH[:OPTIONS]` and `--mount type=bind|tmpfs,...`.
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import type { MountSpec } from "../engine-interface.js";

/**
 * Parses one volume. A single path binds it at the same place (udocker's form). The host path is
 * made absolute against `cwd`; the container path must be absolute.
 */
export function parseVolume(arg: string, cwd: string): Extract<MountSpec, { kind: "bind" }> {
  const parts = arg.split(":");
  let mode: string | undefined;
  if (parts.length >= 2 && /^(ro|rw|z|Z|ro,z|ro,Z|rw,z|rw,Z)$/.test(parts[parts.length - 1]!))
    mode = parts.pop();
  if (parts.length > 2 || parts.some((p) => p === "")) {
    throw new InvalidArgumentError(`invalid volume "${arg}": use HOST_PATH[:CONTAINER_PATH[:ro]]`);
  }
  const host = path.resolve(cwd, parts[0]!);
  const destination = containerPath(parts[1] ?? host, `volume "${arg}"`);
  return { kind: "bind", source: host, destination, readonly: mode?.startsWith("ro") === true, create: true };
}

type TmpfsMount = Extract<MountSpec, { kind: "tmpfs" }>;
type BindMount = Extract<MountSpec, { kind: "bind" }>;

/** A container path of a mount flag: absolute, normalised (no trailing `/`), not the root itself. */
function containerPath(inside: string, flag: string): string {
  if (!path.posix.isAbsolute(inside))
    throw new InvalidArgumentError(`invalid ${flag}: the container path "${inside}" must be absolute`);
  const destination = path.posix.normalize(inside).replace(/(.)\/$/, "$1");
  if (destination === "/")
    throw new InvalidArgumentError(`invalid ${flag}: cannot mount over the container's /`);
  return destination;
}

/** A tmpfs size as tmpfs(5) takes it: digits with an optional k, m, g or % suffix. */
const TMPFS_SIZE = /^\d+[kKmMgG%]?$/;

/** A permission mode in octal (docker's tmpfs-mode: `1777`, `700`). */
function octalMode(value: string, flag: string): number {
  if (!/^[0-7]{1,5}$/.test(value) || Number.parseInt(value, 8) > 0o7777)
    throw new InvalidArgumentError(`invalid ${flag}: mode "${value}" must be octal, at most 7777`);
  return Number.parseInt(value, 8);
}

/**
 * `--tmpfs PATH[:OPTIONS]`, docker's form: a private tmpfs at PATH, OPTIONS a comma list of `rw`,
 * `size=N[k|m|g|%]`, `mode=OCTAL`, `noexec`/`exec`, `nosuid`, `nodev`. Docker's defaults: `noexec`, mode 1777.
 * It is always nosuid and nodev (a user namespace cannot grant either): `suid`, `dev` and `ro` are refused.
 */
export function parseTmpfs(arg: string): TmpfsMount {
  const colon = arg.indexOf(":");
  const flag = `--tmpfs ${arg}`;
  const destination = containerPath(colon < 0 ? arg : arg.slice(0, colon), flag);
  const mount: TmpfsMount = { kind: "tmpfs", destination, mode: 0o1777, noexec: true };
  for (const opt of colon < 0 ? [] : arg.slice(colon + 1).split(",")) {
    const [key, value] = opt.includes("=")
      ? [opt.slice(0, opt.indexOf("=")), opt.slice(opt.indexOf("=") + 1)]
      : [opt];
    if (key === "size" && value !== undefined && TMPFS_SIZE.test(value)) mount.size = value;
    else if (key === "mode" && value !== undefined) mount.mode = octalMode(value, flag);
    else if (key === "exec" && value === undefined) mount.noexec = false;
    else if (key === "noexec" && value === undefined) mount.noexec = true;
    else if (["rw", "nosuid", "nodev"].includes(key) && value === undefined) continue;
    else
      throw new InvalidArgumentError(
        `invalid ${flag}: "${opt}" is not an option burrow can give a tmpfs without root; use rw, size=N[k|m|g], mode=OCTAL, exec or noexec (always nosuid, nodev)`,
      );
  }
  return mount;
}

/** The keys `--mount` takes, by the mount type they belong to ("" for every type). */
const MOUNT_KEYS: Record<string, "" | "bind" | "tmpfs"> = {
  type: "",
  source: "bind",
  src: "bind",
  target: "",
  destination: "",
  dst: "",
  readonly: "bind",
  ro: "bind",
  "tmpfs-size": "tmpfs",
  "tmpfs-mode": "tmpfs",
};

/**
 * `--mount type=bind,source=HOST,target=PATH[,readonly]` or `--mount type=tmpfs,target=PATH[,tmpfs-size=BYTES]
 * [,tmpfs-mode=OCTAL]`, docker's form (`src`, `destination`/`dst` and `ro` too; `readonly=true|false|1|0`).
 * The host path is made absolute against `cwd`. Named volumes (`type=volume`) are docker's daemon's: refused.
 * A tmpfs from `--mount` is docker's: mode 1777, programs may run from it.
 */
export function parseMount(arg: string, cwd: string): MountSpec {
  const flag = `--mount ${arg}`;
  const fields = new Map<string, string | undefined>();
  for (const part of arg.split(",")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!Object.hasOwn(MOUNT_KEYS, key))
      throw new InvalidArgumentError(
        `invalid ${flag}: burrow does not know the key "${key}"; use type, source, target, readonly, tmpfs-size, tmpfs-mode`,
      );
    if (fields.has(key)) throw new InvalidArgumentError(`invalid ${flag}: "${key}" is given twice`);
    fields.set(key, eq < 0 ? undefined : part.slice(eq + 1));
  }
  const type = fields.get("type") ?? "volume";
  if (type !== "bind" && type !== "tmpfs")
    throw new InvalidArgumentError(
      `invalid ${flag}: burrow mounts type=bind and type=tmpfs only (${type === "volume" ? "named volumes belong to docker's daemon" : `not ${type}`}); bind a host folder with type=bind,source=DIR,target=PATH`,
    );
  for (const key of fields.keys()) {
    const owner = MOUNT_KEYS[key];
    if (owner !== "" && owner !== type)
      throw new InvalidArgumentError(`invalid ${flag}: "${key}" is not an option of type=${type}`);
  }
  const targets = ["target", "destination", "dst"].filter((k) => fields.has(k));
  const target = targets.length === 1 ? fields.get(targets[0]!) : undefined;
  if (target === undefined || target === "")
    throw new InvalidArgumentError(`invalid ${flag}: give the container path once, as target=PATH`);
  const destination = containerPath(target, flag);
  if (type === "tmpfs") {
    const mount: TmpfsMount = { kind: "tmpfs", destination, mode: 0o1777 };
    const size = fields.get("tmpfs-size");
    if (size !== undefined) {
      if (!/^\d+$/.test(size))
        throw new InvalidArgumentError(`invalid ${flag}: tmpfs-size "${size}" must be a number of bytes`);
      mount.size = size;
    }
    const mode = fields.get("tmpfs-mode");
    if (mode !== undefined) mount.mode = octalMode(mode, flag);
    return mount;
  }
  const sources = ["source", "src"].filter((k) => fields.has(k));
  const source = sources.length === 1 ? fields.get(sources[0]!) : undefined;
  if (source === undefined || source === "")
    throw new InvalidArgumentError(`invalid ${flag}: a bind mount needs its host path once, as source=PATH`);
  const ro = ["readonly", "ro"].filter((k) => fields.has(k)).map((k) => fields.get(k));
  if (ro.length > 1) throw new InvalidArgumentError(`invalid ${flag}: give readonly once`);
  const readonlyValue = ro[0];
  if (readonlyValue !== undefined && !["true", "false", "1", "0"].includes(readonlyValue))
    throw new InvalidArgumentError(`invalid ${flag}: readonly takes true or false, not "${readonlyValue}"`);
  const mount: BindMount = {
    kind: "bind",
    source: path.resolve(cwd, source),
    destination,
    readonly:
      ro.length === 1 && (readonlyValue === undefined || readonlyValue === "true" || readonlyValue === "1"),
    create: true,
  };
  return mount;
}
