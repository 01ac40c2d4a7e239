import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { copyTree } from "../../../src/fs/copy-tree.js";
import { StoreError } from "../../../src/errors.js";

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "burrow-copy-tree-"));
}

test("a copied tree keeps its modes and links", () => {
  const dir = scratch();
  const from = path.join(dir, "from");
  fs.mkdirSync(path.join(from, "bin"), { recursive: true });
  fs.writeFileSync(path.join(from, "bin", "tool"), "#!/bin/sh\n", { mode: 0o750 });
  fs.symlinkSync("bin/tool", path.join(from, "link"));
  copyTree(from, path.join(dir, "to"));
  assert.equal(fs.statSync(path.join(dir, "to", "bin", "tool")).mode & 0o777, 0o750);
  assert.equal(fs.readlinkSync(path.join(dir, "to", "link")), "bin/tool");
});

test("into: what the source holds replaces entries of the same name in the folder, the others stay", () => {
  const dir = scratch();
  const upper = path.join(dir, "upper");
  const root = path.join(dir, "root");
  fs.mkdirSync(path.join(upper, "etc"), { recursive: true });
  fs.mkdirSync(path.join(root, "etc"), { recursive: true });
  fs.writeFileSync(path.join(upper, "etc", "hostname"), "new\n");
  fs.writeFileSync(path.join(root, "etc", "hostname"), "old\n");
  fs.writeFileSync(path.join(root, "etc", "passwd"), "root\n");
  copyTree(upper, root, { into: true });
  assert.equal(fs.readFileSync(path.join(root, "etc", "hostname"), "utf8"), "new\n");
  assert.equal(fs.readFileSync(path.join(root, "etc", "passwd"), "utf8"), "root\n");
});

test("a failed copy is one StoreError line naming the source as asked", () => {
  const dir = scratch();
  const missing = path.join(dir, "missing");
  const to = path.join(dir, "to");
  const oneLine = (pattern: RegExp) => (err: unknown) =>
    err instanceof StoreError && !err.message.includes("\n") && pattern.test(err.message);
  assert.throws(
    () => copyTree(missing, to),
    oneLine(new RegExp(`^cannot copy ${missing} to ${to}: cannot stat`)),
  );
  assert.throws(
    () => copyTree(missing, to, { container: "box" }),
    oneLine(new RegExp(`^cannot copy container box to ${to}: `)),
  );
  assert.throws(
    () => copyTree(missing, to, { label: "the imported files" }),
    oneLine(new RegExp(`^cannot copy the imported files to ${to}: `)),
  );
});
