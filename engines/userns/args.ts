// Translates an engine-neutral RunSpec into burrow-ns's command line (engines/userns/README.md, interface 2).
import type { MountSpec, RunSpec } from "../../src/engine-interface.js";

/** The burrow-ns command-line interface this translation is written against (`--version` prints it). */
export const HELPER_INTERFACE = 6;

/** Escapes one `:`-separated field of `--bind`, `--tmpfs` or `--overlay`: `\` as `\\`, `:` as `\:`. */
export function escapeField(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/:/g, "\\:");
}

/** A tmpfs mode as burrow-ns reads it: octal, at least four digits (`0755`, `1777`). */
export function octalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new RangeError(`tmpfs mode ${mode} is not a permission mode (0 to 07777)`);
  }
  return mode.toString(8).padStart(4, "0");
}

/** The `--bind` or `--tmpfs` argument of one planned mount. */
export function mountArg(mount: MountSpec): string {
  if (mount.kind === "bind") {
    const fields = [escapeField(mount.source), escapeField(mount.destination)];
    if (mount.readonly) fields.push("ro");
    if (mount.optional) fields.push("opt");
    if (mount.create) fields.push("mkdir");
    return `--bind=${fields.join(":")}`;
  }
  const fields = [escapeField(mount.destination)];
  if (mount.size !== undefined) fields.push(`size=${escapeField(mount.size)}`);
  if (mount.mode !== undefined) fields.push(`mode=${octalMode(mount.mode)}`);
  if (mount.noexec === true) fields.push("noexec");
  return `--tmpfs=${fields.join(":")}`;
}

/** Whether `p` lies inside folder `dir` (both absolute and normalized, as the run path makes them). */
function inside(p: string, dir: string): boolean {
  return p.startsWith(dir.endsWith("/") ? dir : `${dir}/`);
}

/**
 * The burrow-ns arguments that run `spec`, `--` and the program included. `scratch` is the run's
 * private scratch folder, deleted after the run: an overlay layer inside it (an ephemeral run's) is
 * mounted `:volatile`, so that the kernel never syncs it (not at copy-up, not at the unmount when
 * the container exits, where a sync would flush every dirty page of the file system holding it). With
 * `removeScratch` (and a pid namespace, whose outer helper outlives the program) the helper removes the
 * scratch folder itself before it reports the status. Valued options use the `--opt=VALUE` form so that
 * no value can be mistaken for an option. Global options come first, then the mount ops in the order the
 * helper applies them: /proc, /dev, /sys, then `spec.mounts` as planned.
 */
export function helperArgs(spec: RunSpec, scratch?: string, removeScratch = false): string[] {
  if (spec.argv.length === 0) throw new RangeError("the RunSpec has no program to run (argv is empty)");
  const args: string[] = [];
  const root = spec.root;
  if (root.kind === "direct") {
    args.push(`--rootfs=${root.path}`);
    if (root.readonly) args.push("--readonly-root");
  } else {
    args.push(`--rootfs=${root.mountpoint}`);
    if (root.readonly === true) args.push("--readonly-root");
    const fields = [root.lower, root.upper, root.work].map(escapeField);
    if (scratch !== undefined && inside(root.upper, scratch) && inside(root.work, scratch))
      fields.push("volatile");
    args.push(`--overlay=${fields.join(":")}`);
    if (root.fuse !== undefined) args.push(`--fuse-overlayfs=${root.fuse}`);
    if (root.squashfs !== undefined) {
      args.push(`--squashfs=${root.squashfs.file}`, `--squashfuse=${root.squashfs.squashfuse}`);
      // One mount per image on the node, shared by its runs (the helper's keeper); not in build's namespace.
      if (root.squashfs.share !== undefined && spec.realIds !== true)
        args.push(`--squashfs-share=${root.squashfs.share}`);
    }
  }
  args.push(`--uid=${spec.uid}`, `--gid=${spec.gid}`);
  if (spec.hostname !== undefined) args.push(`--hostname=${spec.hostname}`);
  if (spec.pidNamespace) args.push("--pid");
  if (spec.pidNamespace && spec.linger === true) args.push("--linger");
  if (spec.pidNamespace && spec.hostPid === true) args.push("--host-pid");
  if (spec.pidNamespace && removeScratch && scratch !== undefined) args.push(`--remove-after=${scratch}`);
  // In burrow build's namespace of subordinate ids, the ids are real and root needs no emulation.
  if (spec.realIds === true) args.push("--map-all");
  else if (spec.fakeRoot) args.push("--fake-root");
  // --network none and slirp: a network namespace of its own (slirp's --net-sync comes with its stdio).
  if (spec.network !== undefined && spec.network.mode !== "host") args.push("--netns");
  if (spec.limits?.cpuset !== undefined) args.push(`--cpuset=${spec.limits.cpuset}`);
  for (const r of spec.limits?.rlimits ?? []) args.push(`--rlimit=${r.name}:${r.soft}:${r.hard}`);
  args.push(`--cwd=${spec.cwd}`);
  if (spec.sysdirs) args.push("--proc", "--dev", "--sys");
  for (const m of spec.mounts) args.push(mountArg(m));
  args.push("--", ...spec.argv);
  return args;
}
