// The pinned manifest `burrow install` reads (vendor/manifest.json): which engine binaries, from where, with which sha256.
import { InvalidArgumentError } from "../errors.js";

/** The binaries `install` may put in the store's bin/ (the names the engines look up). */
export const INSTALLABLE = ["proot", "runc", "crun"] as const;

/** One pinned binary for one platform. */
export interface ManifestEntry {
  name: (typeof INSTALLABLE)[number];
  version: string;
  /** `linux-<arch>`, arch as Node's `process.arch` (linux-x64, linux-arm64). */
  platform: string;
  /** Absolute, or relative to the manifest's `base` (else to the manifest's own URL). */
  url: string;
  /** Lower-case hex sha256 of the binary. */
  sha256: string;
}

/** The whole manifest. */
export interface Manifest {
  /** Where relative `url`s are resolved from. */
  base?: string | undefined;
  binaries: ManifestEntry[];
}

const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
const PLATFORM_RE = /^linux-[a-z0-9_]+$/;
const SHA256_RE = /^[a-f0-9]{64}$/;

/** The platform string of this machine (`linux-x64`). */
export function hostPlatform(arch: string = process.arch): string {
  return `linux-${arch}`;
}

/** Parses and checks a manifest's text; `where` names it in errors. Unknown top-level keys are ignored. */
export function parseManifest(text: string, where: string): Manifest {
  const bad = (why: string): InvalidArgumentError =>
    new InvalidArgumentError(`the install manifest ${where} is invalid: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`the install manifest ${where} is not JSON`, { cause: err });
  }
  if (typeof json !== "object" || json === null) throw bad("not an object");
  const { base, binaries } = json as { base?: unknown; binaries?: unknown };
  if (base !== undefined && typeof base !== "string") throw bad('"base" is not a string');
  if (!Array.isArray(binaries)) throw bad('"binaries" is not a list');
  const entries = binaries.map((raw: unknown, i): ManifestEntry => {
    const e = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const field = (key: string, re?: RegExp): string => {
      const v = e[key];
      if (typeof v !== "string" || v === "" || (re && !re.test(v))) {
        throw bad(`binaries[${i}].${key} is missing or malformed`);
      }
      return v;
    };
    const name = field("name");
    if (!(INSTALLABLE as readonly string[]).includes(name)) {
      throw bad(`binaries[${i}].name "${name}" is not one of ${INSTALLABLE.join(", ")}`);
    }
    return {
      name: name as ManifestEntry["name"],
      version: field("version", VERSION_RE),
      platform: field("platform", PLATFORM_RE),
      url: field("url"),
      sha256: field("sha256", SHA256_RE),
    };
  });
  const seen = new Set<string>();
  for (const e of entries) {
    const key = `${e.name} ${e.platform}`;
    if (seen.has(key)) throw bad(`${e.name} is listed twice for ${e.platform}`);
    seen.add(key);
  }
  return { base, binaries: entries };
}

/** The entries for `platform`, restricted to `names` when some are given (an unknown name is an error). */
export function entriesFor(
  manifest: Manifest,
  platform: string,
  names: readonly string[] = [],
): ManifestEntry[] {
  const here = manifest.binaries.filter((e) => e.platform === platform);
  for (const n of names) {
    if (!here.some((e) => e.name === n)) {
      throw new InvalidArgumentError(
        `the install manifest has no ${n} for ${platform}: choose from ${here.map((e) => e.name).join(", ") || "nothing"}`,
      );
    }
  }
  return names.length > 0 ? here.filter((e) => names.includes(e.name)) : here;
}

/** The mirror file name of an entry: `<name>-<version>-<platform>` (the layout BURROW_INSTALL_URL serves). */
export function mirrorName(e: Pick<ManifestEntry, "name" | "version" | "platform">): string {
  return `${e.name}-${e.version}-${e.platform}`;
}

/**
 * Where to download an entry from: `$BURROW_INSTALL_URL/<name>-<version>-<platform>` when a mirror is
 * set, else the entry's URL (resolved against the manifest's `base`, else the manifest's own location).
 */
export function downloadUrl(
  entry: ManifestEntry,
  manifest: Pick<Manifest, "base">,
  mirror: string | undefined,
  manifestLocation?: string,
): URL {
  const parse = (raw: string, base?: string): URL => {
    let u: URL;
    try {
      u = base === undefined ? new URL(raw) : new URL(raw, base);
    } catch (err) {
      throw new InvalidArgumentError(`cannot make a download address of "${raw}"`, { cause: err });
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") {
      throw new InvalidArgumentError(`${u.href} is not an http(s) address`);
    }
    return u;
  };
  if (mirror !== undefined && mirror.trim() !== "") {
    const root = mirror.trim().replace(/\/+$/, "");
    return parse(`${root}/${mirrorName(entry)}`);
  }
  const base =
    manifest.base ?? (manifestLocation && /^https?:/.test(manifestLocation) ? manifestLocation : undefined);
  return parse(entry.url, base);
}
