// The container name rule: udocker's names (`_`, `-x`, `a:b`) and docker's (`my.box`) are taken; udocker's
// refusals (`/`, `.` outside docker's names, space, `[`, `]`), blanks, control characters and ids are not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkContainerName, containerNameProblem } from "../../../src/store/container-name.js";

test("udocker's names are taken: _, _tmp, -x, --x, a:b, café, 1", () => {
  for (const n of [
    "_",
    "_tmp",
    "-x",
    "--x",
    "a:b",
    "ubuntu:latest",
    "café",
    "1",
    "x".repeat(2048),
    "A_b-C",
  ]) {
    assert.equal(containerNameProblem(n), undefined, n);
  }
});

test("docker's names are taken, dots included: my.box, x., a.b.c", () => {
  for (const n of ["my.box", "x.", "a.b.c", "web-1", "db_2"])
    assert.equal(containerNameProblem(n), undefined, n);
});

test("udocker's refusals are refused with its rule named: / . space [ ]", () => {
  for (const n of ["a/b", ".x", "_.x", "-x.y", "my box", "a[1]", "]", "/", ".", ".."]) {
    assert.match(containerNameProblem(n) ?? "", /udocker's rule refuses \/ \. space \[ \]/, n);
  }
});

test("blanks, control characters, the empty name, ids and overlong names are refused", () => {
  assert.match(containerNameProblem("a\tb") ?? "", /blanks or control characters/);
  assert.match(containerNameProblem("a\nb") ?? "", /blanks or control characters/);
  assert.match(containerNameProblem("a\u001b[31mb") ?? "", /udocker's rule|control/);
  assert.match(containerNameProblem("a\u001bb") ?? "", /control characters/);
  assert.match(containerNameProblem("a\u200bb") ?? "", /control characters/);
  assert.match(containerNameProblem("") ?? "", /empty/);
  assert.match(containerNameProblem("b".repeat(64)) ?? "", /container id/);
  assert.equal(containerNameProblem("b".repeat(63)), undefined);
  assert.match(containerNameProblem("x".repeat(2049)) ?? "", /at most 2048/);
});

test("checkContainerName throws one line that quotes the name printably", () => {
  assert.throws(
    () => checkContainerName("a\nb"),
    (err: Error) =>
      err.message ===
      'invalid container name "a\\nb": a name cannot hold blanks or control characters: pick another',
  );
  assert.doesNotThrow(() => checkContainerName("_"));
});
