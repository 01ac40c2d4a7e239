// The retry rules: backoff growth, jitter bounds, the cap, Retry-After, and what counts as retryable.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_RETRY_POLICY,
  backoffDelay,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  sleep,
} from "../../../src/registry/retry.js";

const policy = { baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 5000 };

test("backoff doubles per attempt, with equal jitter between half and all of it", () => {
  assert.equal(
    backoffDelay(1, policy, undefined, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(1, policy, undefined, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(2, policy, undefined, () => 1),
    200,
  );
  assert.equal(
    backoffDelay(3, policy, undefined, () => 0.5),
    300,
  );
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(4, policy);
    assert.ok(d >= 400 && d <= 800, String(d));
  }
});

test("backoff is capped", () => {
  assert.equal(
    backoffDelay(30, policy, undefined, () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(1000, policy, undefined, () => 1),
    1000,
  );
});

test("Retry-After in seconds or as a date is honoured, up to its cap", () => {
  assert.equal(
    backoffDelay(1, policy, "2", () => 0),
    2000,
  );
  assert.equal(
    backoffDelay(1, policy, "3600", () => 0),
    5000,
  );
  const now = Date.parse("2024-01-01T00:00:00Z");
  assert.equal(
    backoffDelay(1, policy, "Mon, 01 Jan 2024 00:00:03 GMT", () => 0, now),
    3000,
  );
  // A Retry-After shorter than the backoff does not shorten it; garbage is ignored.
  assert.equal(
    backoffDelay(5, policy, "0", () => 1),
    1000,
  );
  assert.equal(
    backoffDelay(1, policy, "soon", () => 1),
    100,
  );
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter(" 7 "), 7000);
  assert.equal(parseRetryAfter("Mon, 01 Jan 2024 00:00:00 GMT", now + 5000), 0);
});

test("retryable statuses: 408, 429 and the temporary 5xx", () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.ok(isRetryableStatus(s), String(s));
  for (const s of [200, 206, 301, 400, 401, 403, 404, 416, 501, 505])
    assert.ok(!isRetryableStatus(s), String(s));
});

test("retryable errors: dropped and stalled connections, not refused or unknown hosts", () => {
  const e = (code: string, message = "x"): Error => Object.assign(new Error(message), { code });
  for (const c of ["ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ERR_STREAM_PREMATURE_CLOSE"]) {
    assert.ok(isRetryableError(e(c)), c);
  }
  assert.ok(isRetryableError(new Error("x", { cause: e("ECONNRESET") })));
  assert.ok(isRetryableError(new Error("socket hang up")));
  for (const c of ["ECONNREFUSED", "ENOTFOUND", "DEPTH_ZERO_SELF_SIGNED_CERT", "EPROTO"]) {
    assert.ok(!isRetryableError(e(c)), c);
  }
  assert.ok(!isRetryableError(e("ABORT_ERR", "The operation was aborted")));
});

test("the default policy is five tries", () => {
  assert.equal(DEFAULT_RETRY_POLICY.tries, 5);
});

test("sleep stops early when its signal aborts", async () => {
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(new Error("stop")), 10);
  await assert.rejects(sleep(5000, ac.signal), /stop/);
  assert.ok(Date.now() - started < 1000);
});
