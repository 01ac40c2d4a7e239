// The Open MPI test image: Debian bookworm minbase with openmpi-bin, libopenmpi-dev and gcc, built once as root and cached.
import path from "node:path";
import { debianCacheDir } from "./debian.js";
import { cachedDebootstrap } from "./debootstrap-cache.js";

/** What is built, and the cache key: a change here must change `version` so that old caches are rebuilt. */
export const MPI_IMAGE = {
  suite: "bookworm",
  variant: "minbase",
  /** The host's own Debian mirror (/etc/apt/sources.list.d/debian.sources), so the build needs no other. */
  mirror: "http://deb.debian.org/debian",
  /** Debian 12 ships Open MPI 4.1.4 (with the external PMIx 4.2), the same as the host's openmpi-bin. */
  /**
   * automake too: libltdl-dev (pulled in by libopenmpi-dev through libhwloc-dev) depends on the
   * virtual package automake-1.16, which debootstrap cannot resolve by itself.
   */
  include: ["openmpi-bin", "libopenmpi-dev", "gcc", "libc6-dev", "automake"],
  /** Bump when the build recipe changes. */
  version: "1",
} as const;

/** The cached layer's path, next to the Debian minbase one (BURROW_TEST_CACHE, else /var/cache/burrow-test). */
export function mpiTarballPath(): string {
  return path.join(
    debianCacheDir(),
    `debian-${MPI_IMAGE.suite}-openmpi-${process.arch}-v${MPI_IMAGE.version}.tar.gz`,
  );
}

/**
 * The Open MPI image's layer tarball, built when the cache lacks it (as root only: debootstrap needs
 * root). Throws the reason when it cannot be had, so that the tests using it fail with it.
 */
export function ensureMpiImage(log: (line: string) => void): Promise<string> {
  return cachedDebootstrap(
    {
      label: "mpi image",
      target: mpiTarballPath(),
      lockName: "openmpi",
      ...MPI_IMAGE,
      timeoutMs: 25 * 60_000,
      // What every MPI program needs from the image; a build that lacks it is no use (checked before caching).
      requires: ["usr/bin/mpicc", "usr/bin/mpirun", "usr/bin/gcc"],
    },
    log,
  );
}

/** For `node dist/test/harness/mpi-image.js`: builds (or finds) the cached image and prints its path. */
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  try {
    process.stdout.write(`${await ensureMpiImage((l) => process.stderr.write(`${l}\n`))}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
