// `burrow install` through mirrors: a binary's URL is tried at each mirror of its host (BURROW_REGISTRY_MIRRORS,
// config `mirrors`), then at its own host unless the rule says nofallback; every copy is checked against
// the pinned sha256, so a mirror is trusted with nothing.
import { BurrowError, DigestMismatchError, OfflineError, RegistryError } from "../errors.js";
import type { MirrorRule } from "../registry/mirrors.js";
import { mirrorRuleFor } from "../registry/mirrors.js";
import { downloadVerified } from "./download.js";
import type { Fetcher, VerifiedDownload } from "./download.js";

/**
 * The URLs to try for `url`, in order: for each mirror of its host, the mirror's URL followed by `url`'s
 * path and query (`github.com=https://m.site/gh` serves `https://github.com/a/b` as
 * `https://m.site/gh/a/b`); then `url` itself unless the rule says nofallback.
 */
export function mirroredUrls(url: URL, rules: readonly MirrorRule[]): URL[] {
  const rule = rules.length > 0 ? mirrorRuleFor(rules, url.host) : undefined;
  if (!rule) return [url];
  const mirrors = rule.mirrors.map(
    (m) =>
      new URL(
        `${m.scheme}://${m.host}${m.namespace !== "" ? `/${m.namespace}` : ""}${url.pathname}${url.search}`,
      ),
  );
  return rule.fallback ? [...mirrors, url] : mirrors;
}

/**
 * downloadVerified from each of `urls` in turn: a place that fails (unreachable, an HTTP error, bytes that
 * do not match the pinned sha256) is told in a --debug line and the next is tried; when all fail, one
 * error names each place and why. Offline, nothing is tried.
 */
export async function downloadFromAny(
  fetcher: Fetcher,
  d: VerifiedDownload,
  urls: readonly URL[],
  debug?: (line: string) => void,
): Promise<URL> {
  if (urls.length <= 1) {
    const url = urls[0] ?? d.url;
    await downloadVerified(fetcher, { ...d, url });
    return url;
  }
  const failures: string[] = [];
  let last: unknown;
  let allMismatch = true;
  for (const [i, url] of urls.entries()) {
    try {
      await downloadVerified(fetcher, { ...d, url });
      return url;
    } catch (err) {
      if (err instanceof OfflineError || !(err instanceof BurrowError)) throw err;
      last = err;
      allMismatch &&= err instanceof DigestMismatchError;
      failures.push(`${url.href}: ${err.message}`);
      const next = urls[i + 1];
      if (next !== undefined) debug?.(`${d.what}: ${url.href} failed (${err.message}); trying ${next.href}`);
    }
  }
  const message = `cannot download ${d.what}: tried ${failures.join("; ")}; nothing was installed`;
  throw allMismatch
    ? new DigestMismatchError(message, { cause: last })
    : new RegistryError(message, { cause: last });
}
