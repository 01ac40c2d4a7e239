// compareTrees: a stored rootfs against its layers flattened afresh; each kind of change is named, links
// are never followed, and a long list is cut short.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { compareTrees } from "../../../src/image/rootfs-check.js";
import { tempDir } from "./tar-writer.js";

function twoTrees(fn: (got: string, want: string) => void): void {
  const t = tempDir();
  try {
    const got = path.join(t.dir, "got");
    const want = path.join(t.dir, "want");
    for (const r of [got, want]) {
      fs.mkdirSync(path.join(r, "etc/sub"), { recursive: true });
      fs.writeFileSync(path.join(r, "etc/motd"), "same size A\n");
      fs.writeFileSync(path.join(r, "etc/sub/deep"), "deep");
      fs.symlinkSync("motd", path.join(r, "etc/link"));
    }
    fn(got, want);
  } finally {
    t.cleanup();
  }
}

test("identical trees have no differences", () => {
  twoTrees((got, want) => assert.deepEqual(compareTrees(got, want), []));
});

test("content, mode, type, link target, a missing and an extra entry are each named", () => {
  twoTrees((got, want) => {
    fs.writeFileSync(path.join(got, "etc/motd"), "same size B\n");
    fs.chmodSync(path.join(got, "etc/sub/deep"), 0o4755);
    fs.rmSync(path.join(got, "etc/link"));
    fs.symlinkSync("/etc/shadow", path.join(got, "etc/link"));
    fs.writeFileSync(path.join(got, "planted"), "x");
    fs.rmSync(path.join(want, "etc/sub"), { recursive: true });
    fs.mkdirSync(path.join(want, "etc/sub"));
    fs.writeFileSync(path.join(want, "etc/sub/other"), "y");
    const diffs = compareTrees(got, want);
    assert.ok(
      diffs.includes("rootfs: /etc/motd differs from the image's layers (its content)"),
      diffs.join("\n"),
    );
    assert.ok(diffs.includes("rootfs: /etc/link differs from the image's layers (its link target)"));
    assert.ok(diffs.includes("rootfs: /planted is not in the image's layers"));
    assert.ok(diffs.includes("rootfs: /etc/sub/deep is not in the image's layers"));
    assert.ok(diffs.includes("rootfs: /etc/sub/other is missing (the image's layers have it)"));
  });
});

test("a folder swapped for a symlink to a host folder is named and never walked", () => {
  twoTrees((got, want) => {
    fs.rmSync(path.join(got, "etc/sub"), { recursive: true });
    fs.symlinkSync("/", path.join(got, "etc/sub"));
    assert.deepEqual(compareTrees(got, want), [
      "rootfs: /etc/sub differs from the image's layers (a symlink, not a dir)",
    ]);
  });
});

test("more than ten differences are counted, not listed", () => {
  twoTrees((got, want) => {
    for (let i = 0; i < 15; i++) fs.writeFileSync(path.join(got, `extra${String(i).padStart(2, "0")}`), "x");
    const diffs = compareTrees(got, want);
    assert.equal(diffs.length, 11);
    assert.equal(diffs[10], "rootfs: 5 more differences");
  });
});
