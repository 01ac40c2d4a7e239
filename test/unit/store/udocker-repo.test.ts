// A folder holding udocker's own repository (repos/ and layers/) is recognised and refused in one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isUdockerRepository, refuseUdockerRepository } from "../../../src/store/udocker-repo.js";
import { StoreError } from "../../../src/errors.js";

/** A folder holding `dirs` (and a file named `files`). */
function folder(dirs: string[], files: string[] = []): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "burrow-udocker-repo-"));
  for (const d of dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  for (const f of files) fs.writeFileSync(path.join(root, f), "");
  return root;
}

test("udocker's layout (repos/, layers/, containers/, bin/, lib/) is a udocker repository", () => {
  assert.ok(isUdockerRepository(folder(["repos/ubuntu/22.04", "layers", "containers", "bin", "lib"])));
  assert.ok(isUdockerRepository(folder(["repos", "layers"])));
});

test("burrow's store, an empty or missing folder, and files named like udocker's folders are not", () => {
  assert.ok(!isUdockerRepository(folder(["blobs/sha256", "images", "refs", "locks", "tmp", "containers"])));
  assert.ok(!isUdockerRepository(folder([])));
  assert.ok(!isUdockerRepository(path.join(folder([]), "missing")));
  assert.ok(!isUdockerRepository(folder(["repos"], ["layers"])));
});

test("refusal: one line naming the folder, where it was named, and what to do", () => {
  const dir = folder(["repos", "layers"]);
  assert.throws(
    () => refuseUdockerRepository(dir, "UDOCKER_DIR"),
    (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, "ERR_STORE");
      assert.match(err.message, new RegExp(`^${dir} \\(UDOCKER_DIR\\) holds a udocker repository`));
      assert.match(err.message, /set BURROW_DIR \(read before UDOCKER_DIR\) or --repo to another folder/);
      assert.ok(!err.message.includes("\n"));
      return true;
    },
  );
  assert.doesNotThrow(() => refuseUdockerRepository(folder(["images"]), "--repo"));
});

test("a path through a file or an unreadable one is no udocker repository (the store's own checks say why)", () => {
  const root = folder([], ["file"]);
  assert.ok(!isUdockerRepository(path.join(root, "file", "store")));
  assert.doesNotThrow(() => refuseUdockerRepository(path.join(root, "file", "store"), "--repo"));
});
