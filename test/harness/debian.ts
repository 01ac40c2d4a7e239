// The Debian test image: a `debootstrap --variant=minbase` rootfs as one gzip layer, built once as root and cached.
import path from "node:path";
import { CacheMissingError, cachedDebootstrap } from "./debootstrap-cache.js";

/** What is built, and the cache key: a change here must change `version` so that old caches are rebuilt. */
export const DEBIAN = {
  suite: "bookworm",
  variant: "minbase",
  mirror: "http://deb.debian.org/debian",
  /** Bump when the build recipe changes. */
  version: "1",
} as const;

/** Where the tarball is cached across runs (root-owned; override with BURROW_TEST_CACHE). */
export function debianCacheDir(): string {
  return process.env.BURROW_TEST_CACHE ?? "/var/cache/burrow-test";
}

/** The cached layer's path, keyed by suite, variant, architecture and recipe version. */
export function debianTarballPath(): string {
  return path.join(
    debianCacheDir(),
    `debian-${DEBIAN.suite}-${DEBIAN.variant}-${process.arch}-v${DEBIAN.version}.tar.gz`,
  );
}

/** The variable the harness exports the tarball's path in (empty when it has none) and its reason. */
export const DEBIAN_ENV = "BURROW_TEST_DEBIAN";
export const DEBIAN_ERROR_ENV = "BURROW_TEST_DEBIAN_ERROR";

/** In a test: the Debian layer tarball; throws the harness's reason (failing the test) when there is none. */
export function debianTarball(): string {
  const file = process.env[DEBIAN_ENV];
  if (file) return file;
  if (file === undefined) {
    throw new Error(
      `this test needs the test harness (${DEBIAN_ENV} is unset): run it through npm test or ` +
        "node dist/test/harness/run.js FILE",
    );
  }
  throw new Error(
    `this test needs the Debian test image, which the harness could not make: ${
      process.env[DEBIAN_ERROR_ENV] ?? "no reason given"
    }`,
  );
}

/**
 * The Debian layer tarball, built when the cache lacks it (as root only: debootstrap needs root).
 * Resolves to the reason instead when it cannot be had, so that only the tests using it fail.
 */
export async function ensureDebianImage(
  log: (line: string) => void,
): Promise<{ file: string } | { error: string }> {
  const image = {
    label: "debian",
    target: debianTarballPath(),
    lockName: "debian",
    ...DEBIAN,
    timeoutMs: 20 * 60_000,
  };
  try {
    return { file: await cachedDebootstrap(image, log) };
  } catch (err) {
    if (err instanceof CacheMissingError) {
      log(`debian: MISSING; every test that needs it will fail: ${err.message}`);
      return { error: err.message };
    }
    const error = `building the Debian test image failed: ${(err as Error).message}`;
    log(`debian: FAILED; every test that needs it will fail: ${error}`);
    return { error };
  }
}

/** For `node dist/test/harness/debian.js`: builds (or finds) the cached image and prints its path. */
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const r = await ensureDebianImage((l) => process.stderr.write(`${l}\n`));
  if ("file" in r) process.stdout.write(`${r.file}\n`);
  else process.exitCode = 1;
}
