// The rows of `burrow history`: order, sizes of non-empty steps, docker's cut, times and sizes.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  configHistory,
  createdAgo,
  createdByCell,
  historyRows,
  historySize,
  humanDuration,
} from "../../../src/image/history-rows.js";

test("rows are newest first; non-empty steps take the layers' sizes in order; the newest shows the id", () => {
  const entries = configHistory({
    history: [
      { created: "2020-01-01T00:00:00Z", created_by: "ADD a" },
      { created_by: "CMD", empty_layer: true },
      { created_by: "RUN b", comment: "c" },
    ],
  });
  const rows = historyRows("abc", entries, [10, 20]);
  assert.deepEqual(
    rows.map((r) => [r.id, r.createdBy, r.size, r.comment]),
    [
      ["abc", "RUN b", 20, "c"],
      ["<missing>", "CMD", 0, ""],
      ["<missing>", "ADD a", 10, ""],
    ],
  );
  assert.equal(rows[2]!.created, "2020-01-01T00:00:00Z");
});

test("an image without history shows one row per layer", () => {
  const rows = historyRows("id", configHistory({}), [1, 2]);
  assert.deepEqual(
    rows.map((r) => [r.id, r.size]),
    [
      ["id", 2],
      ["<missing>", 1],
    ],
  );
});

test("CREATED BY is cut to 45 characters with an ellipsis, tabs as spaces, unless --no-trunc", () => {
  const long = "/bin/sh -c apt-get update && apt-get install -y curl";
  assert.equal(createdByCell(long, false), "/bin/sh -c apt-get update && apt-get install…");
  assert.equal([...createdByCell(long, false)].length, 45);
  assert.equal(createdByCell(long, true), long);
  assert.equal(createdByCell("a\tb", false), "a b");
  assert.equal(createdByCell("x".repeat(45), false), "x".repeat(45));
});

test("durations and sizes read as docker's", () => {
  assert.equal(humanDuration(500), "Less than a second");
  assert.equal(humanDuration(1000), "1 second");
  assert.equal(humanDuration(30_000), "30 seconds");
  assert.equal(humanDuration(60_000), "About a minute");
  assert.equal(humanDuration(5 * 60_000), "5 minutes");
  assert.equal(humanDuration(3600_000), "About an hour");
  assert.equal(humanDuration(30 * 3600_000), "30 hours");
  assert.equal(humanDuration(3 * 86400_000), "3 days");
  assert.equal(humanDuration(15 * 86400_000), "2 weeks");
  assert.equal(humanDuration(90 * 86400_000), "3 months");
  assert.equal(humanDuration(3 * 365 * 86400_000), "3 years");
  assert.equal(createdAgo(undefined), "N/A");
  assert.equal(createdAgo("2020-01-01T00:00:00Z", Date.parse("2020-01-15T00:00:00Z")), "2 weeks ago");
  assert.equal(historySize(0), "0B");
  assert.equal(historySize(7_800_000), "7.8MB");
  assert.equal(historySize(2560), "2.56kB");
  assert.equal(historySize(123_456_789), "123MB");
});
