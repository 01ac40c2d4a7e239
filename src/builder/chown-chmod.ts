// The --chown and --chmod flags of COPY/ADD: a "user[:group]" resolved through the destination root's
// /etc/passwd and /etc/group (read inside the root), and an octal mode.
import { InRoot, OutsideRootError } from "../fs/in-root.js";
import { DockerfileError } from "../dockerfile/errors.js";
import type { Owner } from "./copy-types.js";

/** One line of /etc/passwd or /etc/group: the name, and the numeric fields that follow the password. */
interface IdEntry {
  name: string;
  id: number;
  /** The primary group (passwd only). */
  gid: number | undefined;
}

/** The entries of a passwd or group file's text (malformed lines skipped). */
export function parseIdFile(text: string): IdEntry[] {
  const out: IdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || f[0] === "" || !/^\d+$/.test(f[2]!)) continue;
    const gid = f[3] !== undefined && /^\d+$/.test(f[3]) ? Number(f[3]) : undefined;
    out.push({ name: f[0]!, id: Number(f[2]), gid });
  }
  return out;
}

/** The largest id an owner may have (uid_t is 32 bits; -1 is reserved). */
const MAX_ID = 0xfffffffe;

/**
 * The owner "user[:group]" names, as BuildKit resolves it: a number is taken as it is, a name is looked up in
 * the root's files; without a group, a named user's primary group is used, and a numeric user's gid is the uid.
 */
export function resolveChown(spec: string, root: string, keyword: string, line: number): Owner {
  const fail = (why: string): DockerfileError =>
    new DockerfileError(line, `${keyword} --chown=${spec}: ${why}`);
  const colon = spec.indexOf(":");
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  if (user === "" || group === "") throw fail(`give a user, and optionally a group, as user[:group]`);
  const numeric = (s: string): number | undefined => {
    if (!/^\d+$/.test(s)) return undefined;
    const n = Number(s);
    if (n > MAX_ID) throw fail(`id ${s} is too large`);
    return n;
  };
  const read = (file: string): IdEntry[] | undefined => {
    try {
      const bytes = InRoot.with(root, (r) => r.readFile(file));
      return bytes === undefined ? undefined : parseIdFile(bytes.toString("utf8"));
    } catch (err) {
      if (err instanceof OutsideRootError) return undefined;
      throw err;
    }
  };
  let uid = numeric(user);
  let gid: number | undefined;
  if (uid === undefined) {
    const entry = read("/etc/passwd")?.find((e) => e.name === user);
    if (entry === undefined)
      throw fail(`no user "${user}" in the image's /etc/passwd; use a uid or add the user first`);
    uid = entry.id;
    gid = entry.gid;
  } else gid = uid;
  if (group !== undefined) {
    gid = numeric(group);
    if (gid === undefined) {
      const entry = read("/etc/group")?.find((e) => e.name === group);
      if (entry === undefined)
        throw fail(`no group "${group}" in the image's /etc/group; use a gid or add the group first`);
      gid = entry.id;
    }
  }
  return { uid, gid: gid ?? uid };
}

/** The mode --chmod gives: 3 or 4 octal digits. */
export function parseChmod(spec: string, keyword: string, line: number): number {
  if (!/^[0-7]{3,4}$/.test(spec)) {
    throw new DockerfileError(
      line,
      `${keyword} --chmod=${spec}: give the mode in octal, such as 755 or 0644`,
    );
  }
  return parseInt(spec, 8);
}
