// When and how long to wait before trying a registry request again.
import { BurrowError } from "../errors.js";

/** How many tries a request gets and how long the waits between them are. */
export interface RetryPolicy {
  /** Total tries, the first included. */
  tries: number;
  /** The wait before the second try, doubled for each later one. */
  baseDelayMs: number;
  /** No computed wait exceeds this. */
  maxDelayMs: number;
  /** No wait asked for by Retry-After exceeds this (a registry asking for an hour gets this much). */
  maxRetryAfterMs: number;
}

/** The policy burrow uses against real registries: 5 tries, 0.5 s doubling up to 10 s, Retry-After up to 60 s. */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  tries: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
};

/** Parses a Retry-After value (seconds or an HTTP date) into milliseconds from `now`; undefined if unusable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * The wait before try number `attempt + 1` (`attempt` counts failed tries, from 1): exponential with
 * "equal jitter" (half fixed, half random) and capped; a Retry-After value is honoured up to its own cap.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs" | "maxRetryAfterMs">,
  retryAfter?: string,
  random: () => number = Math.random,
  now: number = Date.now(),
): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(exp / 2 + (random() * exp) / 2);
  const asked = parseRetryAfter(retryAfter, now);
  if (asked === undefined) return jittered;
  return Math.min(policy.maxRetryAfterMs, Math.max(asked, jittered));
}

/** Whether an HTTP status is worth another try: 408, 429 and the 5xx that mean "later" (not 501 or 505). */
export function isRetryableStatus(status: number): boolean {
  if (status === 408 || status === 429) return true;
  return status >= 500 && status <= 599 && status !== 501 && status !== 505;
}

/**
 * Network error codes worth another try: the connection dropped or stalled, or DNS had a hiccup.
 * ECONNREFUSED and ENOTFOUND are not retried: nothing listens there, and the user should hear it at once.
 */
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETRESET",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
  "ERR_HTTP2_STREAM_ERROR",
]);

/** The errno-like code of an error or of the first error in its cause chain that has one. */
export function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 8 && cur instanceof Error; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === "string" && code !== "ERR_GOT_REQUEST_ERROR") return code;
    cur = cur.cause;
  }
  return undefined;
}

/** Whether a network-level error (no HTTP status) is worth another try. */
export function isRetryableError(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && RETRYABLE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : "";
  return /premature close|socket hang up|aborted/i.test(message) && code !== "ABORT_ERR";
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The tries of one logical request, shared by all its sends (each send counts one). */
export interface TryCount {
  count: number;
}

/** What `retryExchange` reports before each wait. */
export interface RetryExchangeOptions {
  signal?: AbortSignal | undefined;
  /** Told the failure and the wait before the next try (the `--debug` line). */
  onRetry?: (err: unknown, waitMs: number) => void;
}

/**
 * Runs one exchange (send a request, read its whole answer) until it succeeds, so that a connection that
 * drops while the answer is read is tried again like one that drops before it. The sends inside count
 * `tries` up (one that fails before sending anything counts one too); a failure isRetryableError accepts
 * is tried again after backoffDelay while the policy has tries left. Anything else (a BurrowError, which
 * says what is wrong already), and the last failure, is thrown as it came.
 */
export async function retryExchange<T>(
  policy: Pick<RetryPolicy, "tries" | "baseDelayMs" | "maxDelayMs" | "maxRetryAfterMs">,
  tries: TryCount,
  once: () => Promise<T>,
  opts: RetryExchangeOptions = {},
): Promise<T> {
  for (;;) {
    const before = tries.count;
    try {
      return await once();
    } catch (err) {
      if (tries.count === before) tries.count++;
      if (opts.signal?.aborted || err instanceof BurrowError || !isRetryableError(err)) throw err;
      if (tries.count >= policy.tries) throw err;
      const wait = backoffDelay(tries.count, policy);
      opts.onRetry?.(err, wait);
      await sleep(wait, opts.signal);
    }
  }
}
