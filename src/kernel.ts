// The running kernel's version, for features that depend on it.

/** Whether a kernel release string (`uname -r`, os.release()) is at least MAJOR.MINOR. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m === null) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * Whether runs on this node can share one SquashFUSE mount per image (engines/userns/share.c): it needs
 * open_tree and move_mount, Linux 5.2.
 */
export function sharedSquashfsMounts(release: string): boolean {
  return kernelAtLeast(release, 5, 2);
}
