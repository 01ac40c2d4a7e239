import { test } from "node:test";
import assert from "node:assert/strict";
import { hoistGlobalOptions } from "../../../src/cli/hoist.js";
import { humanSize, familiarName } from "../../../src/cli/format.js";

test("global options before the command name move after it (udocker's habit)", () => {
  assert.deepEqual(hoistGlobalOptions(["--repo", "/r", "pull", "alpine"]), [
    "pull",
    "--repo",
    "/r",
    "alpine",
  ]);
  assert.deepEqual(hoistGlobalOptions(["--repo=/r", "-D", "images"]), ["images", "--repo=/r", "-D"]);
  assert.deepEqual(hoistGlobalOptions(["pull", "-q", "alpine"]), ["pull", "-q", "alpine"]);
  assert.deepEqual(hoistGlobalOptions(["--debug"]), ["--debug"]);
});

test("sizes and names print as docker prints them", () => {
  assert.equal(humanSize(0), "0B");
  assert.equal(humanSize(7_800_000), "7.80MB");
  assert.equal(humanSize(123_400_000), "123.4MB");
  assert.equal(familiarName("docker.io/library/alpine"), "alpine");
  assert.equal(familiarName("docker.io/user/x"), "user/x");
  assert.equal(familiarName("127.0.0.1:5000/x"), "127.0.0.1:5000/x");
});
