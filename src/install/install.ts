// `burrow install`'s work: read the pinned manifest, and put each binary for this platform into the store's bin/.
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError } from "../errors.js";
import { readBody } from "../registry/http.js";
import { Fetcher, fileSha256 } from "./download.js";
import type { FetchOptions } from "./download.js";
import { DownloadError } from "./errors.js";
import { downloadUrl, entriesFor, hostPlatform, parseManifest } from "./manifest.js";
import type { Manifest, ManifestEntry } from "./manifest.js";
import { downloadFromAny, mirroredUrls } from "./mirrored.js";
import type { MirrorRule } from "../registry/mirrors.js";

const MAX_MANIFEST_BYTES = 1024 * 1024;

/** Where the manifest comes from: BURROW_INSTALL_MANIFEST (a path or an http(s) URL), else the package's pinned one. */
export function manifestLocation(env: NodeJS.ProcessEnv, packageRoot: string): string {
  const asked = env.BURROW_INSTALL_MANIFEST;
  if (asked !== undefined && asked !== "") return /^https?:\/\//.test(asked) ? asked : path.resolve(asked);
  return path.join(packageRoot, "vendor", "manifest.json");
}

/** Reads the manifest at `location` (a file, or a URL fetched with `fetcher`). */
export async function readManifest(location: string, fetcher: Fetcher): Promise<Manifest> {
  if (/^https?:\/\//.test(location)) {
    const url = new URL(location);
    const res = await fetcher.get(url);
    let body: Buffer;
    try {
      body = await readBody(res.body, MAX_MANIFEST_BYTES);
    } catch (err) {
      throw new DownloadError(`the manifest could not be read (${(err as Error).message})`, url, {
        cause: err,
      });
    }
    return parseManifest(body.toString("utf8"), location);
  }
  let text: string;
  try {
    text = fs.readFileSync(location, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(
      `cannot read the install manifest ${location}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      { cause: err },
    );
  }
  return parseManifest(text, location);
}

/** What happened to one binary. */
export interface InstallOutcome {
  entry: ManifestEntry;
  dest: string;
  url: string;
  action: "installed" | "replaced" | "skipped";
}

/** What `install` is asked. */
export interface InstallRequest {
  storeRoot: string;
  packageRoot: string;
  env: NodeJS.ProcessEnv;
  force: boolean;
  /** Only these binaries (default: every one the manifest has for this platform). */
  names?: readonly string[];
  platform?: string;
  fetch?: FetchOptions;
  /** Mirrors of the download hosts (README: Mirrors), tried before them. */
  mirrors?: readonly MirrorRule[];
  /** Called after each binary, in manifest order. */
  onOutcome?: (o: InstallOutcome) => void;
}

/**
 * Installs each binary of the manifest for this platform into `<store>/bin/<name>`, in manifest order:
 * one already there with the pinned checksum is skipped unless `force`; the first failure stops the rest
 * (earlier binaries stay installed, the failing one's previous file stays untouched).
 */
export async function installBinaries(req: InstallRequest): Promise<InstallOutcome[]> {
  const fetcher = new Fetcher(req.fetch);
  try {
    const location = manifestLocation(req.env, req.packageRoot);
    const manifest = await readManifest(location, fetcher);
    const platform = req.platform ?? hostPlatform();
    const entries = entriesFor(manifest, platform, req.names);
    if (entries.length === 0) {
      throw new InvalidArgumentError(`the install manifest ${location} has no binaries for ${platform}`);
    }
    const binDir = path.join(req.storeRoot, "bin");
    fs.mkdirSync(binDir, { recursive: true });
    const outcomes: InstallOutcome[] = [];
    for (const entry of entries) {
      const dest = path.join(binDir, entry.name);
      let url = downloadUrl(entry, manifest, req.env.BURROW_INSTALL_URL, location);
      const present = await fileSha256(dest);
      let action: InstallOutcome["action"];
      if (present === entry.sha256 && !req.force) {
        // Right bytes, maybe a wrong mode (a copy by hand): make it executable again.
        fs.chmodSync(dest, 0o755);
        action = "skipped";
      } else {
        url = await downloadFromAny(
          fetcher,
          { url, dest, sha256: entry.sha256, what: `${entry.name} ${entry.version}` },
          mirroredUrls(url, req.mirrors ?? []),
          req.fetch?.debug,
        );
        action = present === undefined ? "installed" : "replaced";
      }
      const outcome = { entry, dest, url: url.href, action };
      outcomes.push(outcome);
      req.onOutcome?.(outcome);
    }
    return outcomes;
  } finally {
    fetcher.close();
  }
}
