// A private folder of this user in a place others share (a node's /tmp): made 0700, and trusted only
// when it is a real folder of this user that nobody else may enter, so that a link or a folder another
// user put there first is refused rather than used.
import fs from "node:fs";

/** `dir`, made 0700 where missing; throws `refuse(message)`'s error unless it is private to this user. */
export function ownPrivateDir(dir: string, refuse: (message: string) => Error): string {
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw refuse(
      `${dir} is not a private folder of yours (a link, another user's, or open to others): remove it, or set BURROW_TMPDIR to a folder of your own`,
    );
  }
  return dir;
}

/**
 * Makes `dir` once: `fill` makes it under a temporary name beside it, renamed into place; where another
 * process made `dir` first, its copy is used and ours removed. A failure leaves nothing behind.
 */
export async function makeOnce(
  dir: string,
  tmp: string,
  fill: (tmp: string) => Promise<void>,
  remove: (p: string) => void,
): Promise<string> {
  try {
    await fill(tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      if (!fs.existsSync(dir)) throw err;
      remove(tmp);
    }
  } catch (err) {
    if (fs.existsSync(tmp)) remove(tmp);
    throw err;
  }
  return dir;
}
