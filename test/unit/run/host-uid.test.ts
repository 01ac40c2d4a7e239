import { test } from "node:test";
import assert from "node:assert/strict";
import { BUILD_NAMESPACE_ENV, BUILD_UID_ENV, hostUid } from "../../../src/run/env.js";

const own = process.getuid!();

test("hostUid: the process's own id, unless it is root in a build's namespace that says the user's id", () => {
  assert.equal(hostUid({}), own);
  assert.equal(
    hostUid({ [BUILD_UID_ENV]: "1234" }),
    own,
    "outside a build's namespace the variable is not read",
  );
  const inBuild = { [BUILD_NAMESPACE_ENV]: "1", [BUILD_UID_ENV]: "1234" };
  // Root in the build's namespace reads the id it was given; any other user is itself.
  assert.equal(hostUid(inBuild), own === 0 ? 1234 : own);
  for (const bad of ["", "-1", "12a", "1".repeat(11)])
    assert.equal(hostUid({ [BUILD_NAMESPACE_ENV]: "1", [BUILD_UID_ENV]: bad }), own, `"${bad}" is not an id`);
});
