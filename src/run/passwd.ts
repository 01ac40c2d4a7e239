// /etc/passwd and /etc/group for a run: the image's, plus an entry for the running user (and the host's with --hostauth).
import type { PasswdEntry, GroupEntry } from "./user.js";

/** The invoking user as the host knows them. */
export interface HostUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  groupName: string;
}

/** The lines to append so that `uid`/`gid` (and with `hostauth` the host user) have entries. */
export function extraAccounts(
  passwd: PasswdEntry[],
  groups: GroupEntry[],
  run: { uid: number; gid: number; home: string },
  host: HostUser,
  hostauth: boolean,
): { passwd: string[]; group: string[] } {
  const addPasswd: string[] = [];
  const addGroup: string[] = [];
  const names = new Set(passwd.map((p) => p.name));
  const gnames = new Set(groups.map((g) => g.name));
  const uids = new Set(passwd.map((p) => p.uid));
  const gids = new Set(groups.map((g) => g.gid));
  const shellFor = (s: string) => (s && s.startsWith("/") ? s : "/bin/sh");
  if (hostauth && !names.has(host.name) && !uids.has(host.uid)) {
    addPasswd.push(
      `${host.name}:x:${host.uid}:${host.gid}:${host.name}:${host.home}:${shellFor(host.shell)}`,
    );
    names.add(host.name);
    uids.add(host.uid);
  }
  if (hostauth && !gids.has(host.gid) && !gnames.has(host.groupName)) {
    addGroup.push(`${host.groupName}:x:${host.gid}:${host.name}`);
    gids.add(host.gid);
    gnames.add(host.groupName);
  }
  if (!uids.has(run.uid)) {
    const name = names.has(host.name) ? `user${run.uid}` : host.name;
    addPasswd.push(`${name}:x:${run.uid}:${run.gid}:burrow user:${run.home}:/bin/sh`);
  }
  if (!gids.has(run.gid)) {
    const name = gnames.has(host.groupName) ? `group${run.gid}` : host.groupName;
    addGroup.push(`${name}:x:${run.gid}:`);
  }
  return { passwd: addPasswd, group: addGroup };
}

/** `text` with `lines` appended (and a newline between when the text lacks one). */
export function appendLines(text: string, lines: string[]): string {
  if (lines.length === 0) return text;
  const base = text.length === 0 || text.endsWith("\n") ? text : `${text}\n`;
  return `${base}${lines.join("\n")}\n`;
}
