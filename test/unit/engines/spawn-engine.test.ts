// spawnEngine (engines/common/signals.ts): what Node throws at spawn time is the engine's one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnEngine } from "../../../engines/common/signals.js";
import { EngineUnavailableError, InvalidArgumentError } from "../../../src/errors.js";

test("E2BIG at spawn: one line naming the engine and what to do, not Node's `spawn E2BIG`", () => {
  assert.throws(
    () => spawnEngine("userns", "/x/burrow-ns", "/bin/true", [], { env: { BIG: "a".repeat(1024 * 1024) } }),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      /^engine userns cannot start \/x\/burrow-ns: .*\(E2BIG\): put large values in a file/.test(
        err.message,
      ) &&
      !err.message.includes("\n"),
  );
});

test("another error thrown at spawn (a NUL byte) is the engine's one line too", () => {
  assert.throws(
    () => spawnEngine("proot", "/x/proot", "/bin/true", ["a\0b"], {}),
    (err: unknown) =>
      err instanceof EngineUnavailableError && /^engine proot cannot start \/x\/proot: /.test(err.message),
  );
});

test("a binary that starts is returned as the child", async () => {
  const child = spawnEngine("runc", "/bin/true", "/bin/true", [], { stdio: "ignore" });
  const code = await new Promise((resolve) => child.on("exit", resolve));
  assert.equal(code, 0);
});
