// execve's limits (src/run/exec-limits.ts): one value too large, or all of them, is one line before any engine starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkExecSize, execLimits } from "../../../src/run/exec-limits.js";
import { InvalidArgumentError } from "../../../src/errors.js";

const limits = { perString: 131072, total: 2 * 1024 * 1024 };

function refuses(argv: string[], env: string[], re: RegExp): void {
  assert.throws(
    () => checkExecSize(argv, env, limits),
    (err: unknown) =>
      err instanceof InvalidArgumentError && !err.message.includes("\n") && re.test(err.message),
  );
}

test("this machine's limits: 32 pages per string, a quarter of the stack in all (128 KiB to 6 MiB)", () => {
  const l = execLimits();
  assert.ok(l.perString >= 131072 && l.perString % 32 === 0, String(l.perString));
  assert.ok(l.total >= 128 * 1024 && l.total <= 6 * 1024 * 1024, String(l.total));
});

test("a variable or an argument over 32 pages is named", () => {
  refuses(
    ["sh"],
    ["PATH=/bin", `BIG=${"a".repeat(1024 * 1024)}`],
    /the environment variable BIG is 1048581 bytes, more than the 131072/,
  );
  refuses(["echo", "x", "a".repeat(131072)], [], /argument 2 of the command is 131073 bytes/);
  // Exactly at the limit (with its NUL) passes.
  checkExecSize(["sh"], [`A=${"a".repeat(131072 - 3)}`], limits);
});

test("many values within the per-string limit but over the total: the total is named", () => {
  const env = Array.from({ length: 30 }, (_, i) => `V${i}=${"a".repeat(100_000)}`);
  refuses(["sh"], env, /arguments and environment come to \d+ bytes, more than a program can receive here/);
  const argv = ["echo", ...Array.from({ length: 300_000 }, () => "aaaaaa")];
  refuses(argv, [], /come to \d+ bytes/);
  checkExecSize(["sh"], env.slice(0, 10), limits);
});
