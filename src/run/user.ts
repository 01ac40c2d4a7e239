// `-u name|uid[:group|gid]` (or the image's User), resolved against the container's own passwd and group.
import { InvalidArgumentError } from "../errors.js";

/** One /etc/passwd line. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
}

/** One /etc/group line. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Parses /etc/passwd text, skipping malformed lines. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), gecos: f[4]!, home: f[5]!, shell: f[6]! });
  }
  return out;
}

/** Parses /etc/group text, skipping malformed lines. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter((m) => m.length > 0) });
  }
  return out;
}

/** The user a container runs as. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** The passwd entry of the uid, when the container has one. */
  entry?: PasswdEntry | undefined;
}

const MAX_ID = 0x7fffffff;

function parseId(s: string, what: string, spec: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0 || n > MAX_ID) {
    throw new InvalidArgumentError(`invalid ${what} "${s}" in user "${spec}"`);
  }
  return n;
}

/** Resolves `name|uid[:group|gid]`; an empty spec is root. Names must exist in the container. */
export function resolveUser(
  spec: string | undefined,
  passwd: PasswdEntry[],
  groups: GroupEntry[],
): ResolvedUser {
  if (spec === undefined || spec === "") {
    const entry = passwd.find((p) => p.uid === 0);
    return { uid: 0, gid: entry?.gid ?? 0, entry };
  }
  const [u, g] = spec.split(":", 2) as [string, string | undefined];
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (/^\d+$/.test(u)) {
    uid = parseId(u, "uid", spec);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) {
      throw new InvalidArgumentError(
        `user "${u}" is not in the container's /etc/passwd: give a numeric uid (-u 1000:1000) or create the user first`,
      );
    }
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = parseId(g, "gid", spec);
    else {
      const ge = groups.find((x) => x.name === g);
      if (!ge)
        throw new InvalidArgumentError(
          `group "${g}" is not in the container's /etc/group: give a numeric gid`,
        );
      gid = ge.gid;
    }
  }
  return { uid, gid, entry };
}
