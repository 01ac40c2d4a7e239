// The cause chain `--debug` prints: readable for whatever was thrown, never "[object Object]".
import { test } from "node:test";
import assert from "node:assert/strict";
import { RegistryError, StoreError, causeChain, describeThrown, storeFailure } from "../../src/errors.js";

test("a plain object in the chain is shown with its fields, not as [object Object]", () => {
  const err = new RegistryError("cannot pull x", { cause: { code: "ECONNRESET", reason: "peer closed" } });
  const chain = causeChain(err).join("\n");
  assert.match(chain, /^error: RegistryError \[ERR_REGISTRY\]: cannot pull x$/m);
  assert.match(chain, /^caused by: \{ code: 'ECONNRESET', reason: 'peer closed' \}$/m);
  assert.doesNotMatch(chain, /object Object/);
});

test("an Error caused by a string, and a plain object with a cause of its own, are followed", () => {
  const chain = causeChain(new Error("outer", { cause: { message: "middle", cause: "the bottom" } }));
  assert.equal(chain.filter((l) => !l.startsWith("    ")).length, 3, chain.join("\n"));
  assert.match(chain.join("\n"), /caused by: the bottom$/m);
});

test("an AggregateError lists each error it holds, indented, with its own code", () => {
  const a = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
  const b = Object.assign(new Error("connect ECONNREFUSED ::1:1"), { code: "ECONNREFUSED" });
  const chain = causeChain(new RegistryError("cannot reach r", { cause: new AggregateError([a, b]) }));
  const text = chain.join("\n");
  assert.match(text, /^caused by: AggregateError: \(no message\)$/m);
  assert.match(text, /^ {2}error 1 of 2: Error \[ECONNREFUSED\]: connect ECONNREFUSED 127\.0\.0\.1:1$/m);
  assert.match(text, /^ {2}error 2 of 2: Error \[ECONNREFUSED\]: connect ECONNREFUSED ::1:1$/m);
});

test("a got-style error (a code, the original as cause) shows both, and a cycle ends", () => {
  const inner = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  const outer = Object.assign(new Error("read ECONNRESET", { cause: inner }), {
    name: "ReadError",
    code: "ECONNRESET",
  });
  assert.match(causeChain(outer).join("\n"), /^caused by: Error \[ECONNRESET\]: read ECONNRESET$/m);
  const loop: { message: string; cause?: unknown } = { message: "loop" };
  loop.cause = loop;
  assert.equal(causeChain(loop).length, 1);
});

test("storeFailure and describeThrown say what a non-Error was", () => {
  assert.equal(describeThrown("plain words"), "plain words");
  assert.equal(describeThrown({ errno: -5 }), "{ errno: -5 }");
  const err = storeFailure("cannot pull x", { errno: -5 });
  assert.ok(err instanceof StoreError);
  assert.equal(err.message, "cannot pull x: { errno: -5 }");
});

test("got's error-like cause object (name, message, code) reads as an error does", () => {
  const cause = { name: "Error", message: "The server aborted pending request", code: "ECONNRESET" };
  const chain = causeChain(new RegistryError("fetching x failed", { cause }));
  assert.equal(chain[chain.length - 1], "caused by: Error [ECONNRESET]: The server aborted pending request");
});
