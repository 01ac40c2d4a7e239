// Failed system calls as one line (src/system-error.ts) and the CLI's last-resort report (src/cli/host.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { isSystemError, systemErrorLine } from "../../src/system-error.js";
import { failureStatusOf, reportError } from "../../src/cli/host.js";
import { BurrowError, StoreError } from "../../src/errors.js";

const caught = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail("no error");
};

test("a failed system call reads as the call, the path, the reason and what to do", () => {
  const missing = path.join(os.tmpdir(), "burrow-no-such-dir", "f");
  const err = caught(() => fs.readFileSync(missing));
  assert.ok(isSystemError(err));
  assert.equal(
    systemErrorLine(err),
    `cannot open ${missing}: no such file or directory; it does not exist: check the path`,
  );
  const dir = caught(() => fs.readFileSync(os.tmpdir()));
  assert.match(
    systemErrorLine(dir)!,
    /^cannot read: illegal operation on a directory; that is a folder, not a file/,
  );
  const e2big = Object.assign(new Error("spawn E2BIG"), { code: "E2BIG", syscall: "spawn" });
  assert.match(systemErrorLine(e2big)!, /^cannot spawn: E2BIG; the arguments and environment are larger/);
  assert.equal(systemErrorLine(new TypeError("x is not a function")), undefined);
  assert.equal(systemErrorLine("text"), undefined);
});

/** reportError's output and status. */
function report(err: unknown, debug = false, failureStatus?: number): { text: string; status: number } {
  const out = new PassThrough();
  const status = reportError(err, out, debug, failureStatus);
  return { text: String(out.read() ?? ""), status };
}

test("the CLI reports a failed system call in one line with the command's failure status", () => {
  const err = caught(() => fs.readFileSync("/nonexistent-burrow/x"));
  const r = report(err, false, 1);
  assert.equal(r.status, 1);
  assert.equal(r.text.split("\n").length, 2);
  assert.match(r.text, /^burrow: cannot open \/nonexistent-burrow\/x: no such file or directory/);
  assert.doesNotMatch(r.text, /internal error/);
});

test("a bug is still called one, says what to report, and --debug prints the chain", () => {
  const bug = new TypeError("name.trim is not a function");
  const r = report(bug, false);
  assert.equal(r.status, 125);
  assert.equal(
    r.text,
    "burrow: internal error (a bug in burrow): name.trim is not a function; please report it with the output of the same command run with --debug\n",
  );
  const d = report(new StoreError("outer", { cause: bug }), true);
  assert.match(d.text, /^burrow: outer\nerror: StoreError \[ERR_STORE\]: outer\n/);
  assert.match(d.text, /caused by: TypeError: name.trim is not a function/);
});

test("burrow's own errors take the command's failure status (1; 125 for run and exec) unless they name one", () => {
  const err = new StoreError('no image "x" in the store');
  assert.equal(err.exitCode, undefined);
  assert.deepEqual(report(err, false, 1), { text: 'burrow: no image "x" in the store\n', status: 1 });
  assert.equal(report(err, false, 125).status, 125);
  const named = new BurrowError("ERR_X", "refused", { exitCode: 3 });
  assert.equal(report(named, false, 1).status, 3);
  assert.equal(report(named, false, 125).status, 3);
  assert.equal(report(new TypeError("a bug"), false, 1).status, 1, "a bug in another command is 1 too");
});

test("a command's failure status: 125 for run and exec (docker's container exec too), 1 for the others", () => {
  for (const path of [["run"], ["exec"], ["container", "exec"], ["burrow", "run"]]) {
    assert.equal(failureStatusOf(path), 125, path.join(" "));
  }
  for (const path of [["pull"], ["rmi"], ["image", "rm"], ["container", "logs"], ["logs"], ["help"], []]) {
    assert.equal(failureStatusOf(path), 1, path.join(" "));
  }
});
