// Finds the shared test fixtures (the Alpine minirootfs), fetching the pinned tarball when they are absent.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** The Alpine minirootfs the tests use, pinned by sha256. */
export const ALPINE = {
  file: "alpine-minirootfs-3.20.3-x86_64.tar.gz",
  url: "https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/x86_64/alpine-minirootfs-3.20.3-x86_64.tar.gz",
  sha256: "d4e6fd67dcf75e40c451560ac7265166c2b72a0f38ddc9aae756a7de3d1efa0c",
};

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/**
 * The fixtures folder: $BURROW_TEST_FIXTURES when set, else `shared/fixtures` beside the repository.
 * When neither holds the Alpine tarball, downloads it (sha256-checked) into a cache folder and uses that.
 */
export async function locateFixtures(repoRoot: string, log: (line: string) => void): Promise<string> {
  const candidates = [process.env.BURROW_TEST_FIXTURES, path.resolve(repoRoot, "..", "shared", "fixtures")];
  for (const dir of candidates) {
    if (dir && (await exists(path.join(dir, ALPINE.file)))) {
      log(`fixtures: ${dir}`);
      return path.resolve(dir);
    }
  }
  const cache = path.join(
    process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"),
    "burrow-test",
    "fixtures",
  );
  const target = path.join(cache, ALPINE.file);
  if (await exists(target)) {
    log(`fixtures: ${cache} (downloaded earlier)`);
    return cache;
  }
  if (process.arch !== "x64") {
    throw new Error(
      `the test fixtures are missing: put ${ALPINE.file} (or the minirootfs of this machine's architecture ` +
        `under that name) in ${candidates[1]}, or set BURROW_TEST_FIXTURES`,
    );
  }
  log(`fixtures: not found beside the repository, downloading ${ALPINE.url}`);
  let body: Buffer;
  try {
    const res = await fetch(ALPINE.url, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    const why = cause?.message ? `${(err as Error).message}: ${cause.message}` : (err as Error).message;
    throw new Error(
      `the test fixtures are missing (${candidates[1]}) and ${ALPINE.url} could not be fetched ` +
        `(${why}); put ${ALPINE.file} there or set BURROW_TEST_FIXTURES`,
      { cause: err },
    );
  }
  const digest = createHash("sha256").update(body).digest("hex");
  if (digest !== ALPINE.sha256)
    throw new Error(`${ALPINE.url} has sha256 ${digest}, expected ${ALPINE.sha256}`);
  await fs.mkdir(cache, { recursive: true });
  await fs.writeFile(`${target}.part`, body);
  await fs.rename(`${target}.part`, target);
  log(`fixtures: ${cache} (downloaded, sha256 checked)`);
  return cache;
}
