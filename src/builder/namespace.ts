// The user namespace `burrow build` runs in, so that the owners RUN steps give files are real and recorded
// as Podman records them: root inside is the user, and uids and gids 1 to N are the user's subordinate ids
// (/etc/subuid, /etc/subgid), mapped by the setuid newuidmap/newgidmap through util-linux's `unshare`.
// Where the user has no subordinate ids (or the tools are missing), the build runs as it is and records
// root for what RUN steps own (one line says so); COPY --chown owners are kept either way.
import fs from "node:fs";
import os from "node:os";
import { spawn, spawnSync } from "node:child_process";
import { findOnPath } from "../find-on-path.js";
import { BUILD_NAMESPACE_ENV, BUILD_UID_ENV } from "../run/env.js";

export { inBuildNamespace } from "../run/env.js";

/** The first range of `/etc/subuid`-style `text` that belongs to `name` or `uid` (start, count), if any. */
export function subordinateRange(
  text: string,
  name: string,
  uid: number,
): { start: number; count: number } | undefined {
  for (const line of text.split("\n")) {
    const [who, start, count] = line.trim().split(":");
    if (who === undefined || start === undefined || count === undefined) continue;
    if (who !== name && who !== String(uid)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) return { start: s, count: c };
  }
  return undefined;
}

/** How to enter the build's namespace here: `unshare`'s arguments, or why the build runs without one. */
export function namespacePlan(): { unshare: string[] } | { reason: string } {
  const unshare = findOnPath("unshare");
  if (unshare === undefined) return { reason: "util-linux's unshare is not on PATH" };
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) {
    // Root maps its own first 65536 ids: files keep the owners they are given, as in a root Podman build.
    return { unshare: [unshare, "--user", "--mount", "--map-users=0,0,65536", "--map-groups=0,0,65536"] };
  }
  const name = os.userInfo().username;
  for (const [file, tool] of [
    ["/etc/subuid", "newuidmap"],
    ["/etc/subgid", "newgidmap"],
  ] as const) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      // No file: no range.
    }
    if (subordinateRange(text, name, uid) === undefined)
      return { reason: `${file} gives ${name} no subordinate ids` };
    if (findOnPath(tool) === undefined) return { reason: `${tool} (Debian's uidmap) is not on PATH` };
  }
  return {
    unshare: [
      unshare,
      "--user",
      // A mount namespace of the build's own: stage roots are overlays of the stored images (src/builder/overlay-root.ts).
      "--mount",
      "--map-users=auto",
      "--map-groups=auto",
      "--map-user=0",
      "--map-group=0",
    ],
  };
}

/** Undefined when `unshare` makes the namespace here (a quick try), else why not, from what it said. */
export function namespaceWorks(unshare: string[], env: NodeJS.ProcessEnv): string | undefined {
  const [command, ...args] = unshare;
  const tried = spawnSync(command!, [...args, "--", "true"], { env, encoding: "utf8", timeout: 10_000 });
  if (tried.status === 0) return undefined;
  const said = (tried.stderr ?? "").trim().split("\n").at(-1) ?? "";
  return `unshare failed${said !== "" ? `: ${said}` : ""}`;
}

/** Runs this command line again inside the namespace `unshare` makes; resolves to its exit status. */
export function rerunInNamespace(unshare: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...args] = unshare;
  const child = spawn(
    command!,
    [...args, "--", process.execPath, ...process.execArgv, "--", process.argv[1]!, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: { ...env, [BUILD_NAMESPACE_ENV]: "1", [BUILD_UID_ENV]: String(process.getuid?.() ?? "") },
    },
  );
  // Ctrl-C reaches the child through the terminal; a signal sent to us alone is passed on.
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, forward);
  return new Promise((resolve) => {
    child.on("error", () => resolve(125));
    child.on("exit", (code, signal) => {
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(s, forward);
      resolve(code ?? (signal !== null ? 128 + (os.constants.signals[signal] ?? 15) : 125));
    });
  });
}
