// The unprivileged user the CLI runs as: created when the harness runs as root, the caller otherwise.
import os from "node:os";
import fsp from "node:fs/promises";
import { findProgram } from "./prerequisites.js";
import { runProgram } from "./proc.js";

/** The name of the user the harness creates when it runs as root. */
export const TEST_USER_NAME = "burrowtest";

/** Who the CLI runs as. `name` is empty when it runs as the caller (the harness is not root). */
export interface TestUser {
  name: string;
  uid: number;
  gid: number;
}

/** Looks `name` up in the passwd database; undefined when there is no such user. */
async function lookupUser(name: string): Promise<TestUser | undefined> {
  const r = await runProgram("getent", ["passwd", name], { allowFailure: true });
  if (r.code !== 0) return undefined;
  const fields = r.stdout.trim().split(":");
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (!Number.isInteger(uid) || !Number.isInteger(gid))
    throw new Error(`odd passwd entry for ${name}: ${r.stdout}`);
  return { name, uid, gid };
}

/** As root: the `burrowtest` user, created with a home when missing. Otherwise: the caller. */
export async function ensureTestUser(log: (line: string) => void): Promise<TestUser> {
  if (process.getuid?.() !== 0) {
    const me = os.userInfo();
    log(`user: not root, the CLI runs as ${me.username} (uid ${me.uid})`);
    return { name: "", uid: me.uid, gid: me.gid };
  }
  let user = await lookupUser(TEST_USER_NAME);
  if (user) {
    log(`user: ${TEST_USER_NAME} (uid ${user.uid}) exists, the CLI runs as it`);
  } else {
    const useradd = await findProgram("useradd");
    if (!useradd) throw new Error("cannot create the test user: useradd is missing (Debian package passwd)");
    await runProgram(useradd, ["-m", "-s", "/bin/sh", "-c", "burrow test user", TEST_USER_NAME]);
    user = await lookupUser(TEST_USER_NAME);
    if (!user) throw new Error(`useradd ${TEST_USER_NAME} succeeded but the user cannot be looked up`);
    log(`user: created ${TEST_USER_NAME} (uid ${user.uid}), the CLI runs as it`);
  }
  if (user.uid === 0) throw new Error(`${TEST_USER_NAME} has uid 0; the tests need an unprivileged user`);
  await ensureSubordinateIds(user, log);
  return user;
}

/** The first free start of a 65536-id range after those `/etc/subuid`-style `text` gives out (100000 at least). */
function freeRangeStart(text: string): number {
  let start = 100000;
  for (const line of text.split("\n")) {
    const [, from, count] = line.split(":");
    const end = Number(from) + Number(count);
    if (Number.isInteger(end) && end > start) start = end;
  }
  return start;
}

/**
 * As root: gives the test user subordinate uids and gids (as Debian's useradd does where /etc/subuid
 * exists), so that `burrow build` records the owners RUN steps give, as on a user's machine.
 */
async function ensureSubordinateIds(user: TestUser, log: (line: string) => void): Promise<void> {
  for (const [file, flag] of [
    ["/etc/subuid", "--add-subuids"],
    ["/etc/subgid", "--add-subgids"],
  ] as const) {
    let text = "";
    try {
      text = await fsp.readFile(file, "utf8");
    } catch {
      // No file yet: usermod makes it.
    }
    if (text.split("\n").some((l) => l.startsWith(`${user.name}:`) || l.startsWith(`${user.uid}:`))) continue;
    const start = freeRangeStart(text);
    await runProgram("usermod", [flag, `${start}-${start + 65535}`, user.name]);
    log(`user: gave ${user.name} subordinate ids ${start}-${start + 65535} (${file})`);
  }
}

/** The argv that runs `argv` as `user` (setpriv, same pid, no PAM); `argv` itself when `user.name` is empty. */
export function asUser(user: TestUser, argv: string[]): string[] {
  if (!user.name) return argv;
  return ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", ...argv];
}

/** True when `user` can read `file` (checked by the kernel, as that user). */
export async function userCanRead(user: TestUser, file: string): Promise<boolean> {
  const [cmd, ...args] = asUser(user, ["test", "-r", file]);
  const r = await runProgram(cmd!, args, { allowFailure: true, cwd: "/" });
  return r.code === 0;
}
