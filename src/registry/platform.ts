// Platforms (`os/arch[/variant]`): parsing, the host's own, and choosing a manifest from an index.
import os from "node:os";
import { InvalidArgumentError, PlatformNotFoundError } from "../errors.js";
import type { Descriptor, DescriptorPlatform, ImageIndex } from "./manifest.js";
import { isIndexMediaType } from "./manifest.js";

/** An OCI platform, normalised: `arm64` always has variant `v8`, `amd64` has none for the baseline. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Readonly<Record<string, string>> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  amd64: "amd64",
  aarch64: "arm64",
  arm64: "arm64",
  i386: "386",
  i686: "386",
  "386": "386",
  armhf: "arm",
  armel: "arm",
  arm: "arm",
};

/** Brings a platform to the canonical spelling used for comparison (aliases, default variants). */
export function normalizePlatform(p: DescriptorPlatform | Platform): Platform {
  const osName = p.os.toLowerCase() === "macos" ? "darwin" : p.os.toLowerCase();
  const rawArch = p.architecture.toLowerCase();
  const architecture = ARCH_ALIASES[rawArch] ?? rawArch;
  let variant = (p.variant ?? "").toLowerCase();
  if (/^\d+$/.test(variant)) variant = `v${variant}`;
  if (rawArch === "armhf" && variant === "") variant = "v7";
  if (rawArch === "armel" && variant === "") variant = "v6";
  if (architecture === "arm64" && (variant === "" || variant === "v8.0")) variant = "v8";
  if (architecture === "arm" && variant === "") variant = "v7";
  if (architecture === "amd64" && variant === "v1") variant = "";
  return variant === "" ? { os: osName, architecture } : { os: osName, architecture, variant };
}

/** Parses `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`); throws InvalidArgumentError when malformed. */
export function parsePlatform(input: string): Platform {
  const parts = input.split("/");
  const ok = parts.length >= 2 && parts.length <= 3 && parts.every((s) => /^[A-Za-z0-9_.-]+$/.test(s));
  if (!ok) {
    throw new InvalidArgumentError(
      `invalid platform "${input}": expected os/arch[/variant], such as linux/amd64 or linux/arm/v7`,
    );
  }
  const [osName, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform(
    variant === undefined ? { os: osName, architecture } : { os: osName, architecture, variant },
  );
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform | DescriptorPlatform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** The platform of the machine burrow runs on, as OCI names it (containers are Linux images). */
export function hostPlatform(arch: string = process.arch): Platform {
  switch (arch) {
    case "x64":
      return { os: "linux", architecture: "amd64" };
    case "arm64":
      return { os: "linux", architecture: "arm64", variant: "v8" };
    case "arm": {
      const v = (process.config.variables as { arm_version?: string }).arm_version;
      return { os: "linux", architecture: "arm", variant: v === "6" || v === "5" ? `v${v}` : "v7" };
    }
    case "ia32":
      return { os: "linux", architecture: "386" };
    case "ppc64":
      return { os: "linux", architecture: os.endianness() === "LE" ? "ppc64le" : "ppc64" };
    case "mipsel":
      return { os: "linux", architecture: "mipsle" };
    default:
      // s390x, riscv64, loong64 and mips64el share their OCI spelling (mips64le aside).
      return { os: "linux", architecture: arch === "mips64el" ? "mips64le" : arch };
  }
}

/** How variants of one architecture are ordered: a CPU runs its own level and every level below. */
function variantLevel(architecture: string, variant: string | undefined): number | undefined {
  const v = variant ?? "";
  if (architecture === "arm") return /^v[5-8]$/.test(v) ? Number(v.slice(1)) : undefined;
  if (architecture === "amd64") return v === "" ? 1 : /^v[2-4]$/.test(v) ? Number(v.slice(1)) : undefined;
  return undefined;
}

/**
 * How well an image for `candidate` suits a machine of platform `wanted`: undefined when it cannot run,
 * else a score (higher is better; the exact variant scores highest).
 */
export function platformScore(
  wanted: Platform,
  candidate: DescriptorPlatform | Platform,
): number | undefined {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return undefined;
  if ((w.variant ?? "") === (c.variant ?? "")) return 100;
  const wl = variantLevel(w.architecture, w.variant);
  const cl = variantLevel(c.architecture, c.variant);
  if (wl === undefined || cl === undefined || cl > wl) return undefined;
  return 100 - (wl - cl);
}

/** Chooses the manifest for `platform` in an index; throws PlatformNotFoundError listing what there is. */
export function selectManifest(index: ImageIndex, platform: Platform, where = "the image"): Descriptor {
  let best: Descriptor | undefined;
  let bestScore = -1;
  const available: string[] = [];
  for (const d of index.manifests) {
    if (!d.platform || isIndexMediaType(d.mediaType)) continue;
    if (d.platform.os === "unknown" || d.platform.architecture === "unknown") continue; // attestations
    const label = formatPlatform(normalizePlatform(d.platform));
    if (!available.includes(label)) available.push(label);
    const score = platformScore(platform, d.platform);
    if (score !== undefined && score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  if (best) return best;
  const list = available.length > 0 ? available.join(", ") : "no platform at all";
  throw new PlatformNotFoundError(
    `${where} has no manifest for ${formatPlatform(normalizePlatform(platform))}; it is available for ${list}` +
      (available.length > 0 ? "; choose one with --platform" : ""),
  );
}
