// `-v/--volume HOST[:CONTAINER[:ro|rw]]` parsed into a bind mount.
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
  const inside = parts[1] ?? host;
  if (!path.isAbsolute(inside)) {
    throw new InvalidArgumentError(
      `invalid volume "${arg}": the container path "${inside}" must be absolute`,
    );
  }
  const destination = path.posix.normalize(inside);
  if (destination === "/")
    throw new InvalidArgumentError(`invalid volume "${arg}": cannot mount over the container's /`);
  return { kind: "bind", source: host, destination, readonly: mode?.startsWith("ro") === true, create: true };
}
