// Removes a directory tree even where the code under test left read-only directories in it.
import fs from "node:fs/promises";
import path from "node:path";

/** Gives the owner write and search permission on every directory under `dir` (not following links). */
async function makeWritable(dir: string): Promise<void> {
  let st;
  try {
    st = await fs.lstat(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) return;
  await fs.chmod(dir, (st.mode & 0o7777) | 0o700).catch(() => undefined);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((n) => makeWritable(path.join(dir, n))));
}

/** `rm -rf dir`; when a read-only directory stops it, makes the tree writable and tries again. */
export async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM" && code !== "ENOTEMPTY") throw err;
  }
  await makeWritable(dir);
  await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 });
}
