import { test } from "node:test";
import assert from "node:assert/strict";
import { outputFormat } from "../../../src/cli/output-format.js";
import { InvalidArgumentError } from "../../../src/errors.js";

test("--format: none or table is a table, json is JSON", () => {
  assert.equal(outputFormat(undefined), "table");
  assert.equal(outputFormat("table"), "table");
  assert.equal(outputFormat("json"), "json");
});

test("--format of anything else is refused in one line that says what to use", () => {
  for (const bad of ["yaml", "JSON", "", "{{.ID}}"]) {
    assert.throws(
      () => outputFormat(bad),
      (err: unknown) =>
        err instanceof InvalidArgumentError && err.message === `unknown --format "${bad}": use table or json`,
    );
  }
});
