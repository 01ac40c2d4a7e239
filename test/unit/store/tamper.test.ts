// Signs of tampering verify reports: links swapped in, other kinds of files, files of other users.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { checkRootfs, fileTampering } from "../../../src/store/tamper.js";

const me = { uid: process.getuid?.() ?? 0 };
const someoneElse = { uid: me.uid + 1 };

/** An image folder with a small rootfs: etc/, etc/conf (4 bytes), bin -> etc. */
function imageDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-tamper-"));
  fs.mkdirSync(path.join(dir, "rootfs", "etc"), { recursive: true });
  fs.writeFileSync(path.join(dir, "rootfs", "etc", "conf"), "conf");
  fs.symlinkSync("etc", path.join(dir, "rootfs", "bin"));
  return dir;
}

test("a blob that is our regular file is fine; a link, a folder or another user's file is tampering", () => {
  const dir = imageDir();
  const file = path.join(dir, "blob");
  fs.writeFileSync(file, "x");
  assert.equal(fileTampering(file, me), undefined);
  assert.match(
    fileTampering(file, someoneElse)!,
    /belongs to uid \d+, not to you: the store was tampered with/,
  );
  const link = path.join(dir, "link");
  fs.symlinkSync("/etc/passwd", link);
  assert.match(fileTampering(link, me)!, /is a symbolic link to \/etc\/passwd.*tampered/);
  assert.match(fileTampering(path.join(dir, "rootfs"), me)!, /not a regular file/);
});

test("checkRootfs counts as the pull did and says what was swapped or is another user's", () => {
  const dir = imageDir();
  const ok = checkRootfs(dir, me);
  assert.deepEqual(ok.problems, []);
  assert.deepEqual(ok.summary, { files: 1, dirs: 2, symlinks: 1, bytes: 4 });
  assert.match(checkRootfs(dir, someoneElse).problems.join("\n"), /belongs to uid .*tampered/);

  fs.renameSync(path.join(dir, "rootfs"), path.join(dir, "aside"));
  fs.symlinkSync(path.join(dir, "aside"), path.join(dir, "rootfs"));
  const swapped = checkRootfs(dir, me);
  assert.equal(swapped.summary, undefined);
  assert.match(swapped.problems[0]!, /rootfs is a symbolic link.*tampered/);

  fs.unlinkSync(path.join(dir, "rootfs"));
  assert.deepEqual(checkRootfs(dir, me), { summary: undefined, problems: [] }, "missing: the caller says so");
});
