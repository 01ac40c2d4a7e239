// Compares an image burrow built with the one Podman built from the same Dockerfile: merged file trees
// (type, mode, size, content, link target, owner) and the config's run settings, less the documented
// differences (build-differences.ts), with owner differences on files a RUN made kept apart.
import { BUILD_DIFFERENCES } from "./build-differences.js";
import type { DocumentedDifference } from "./build-differences.js";
import type { Tree, TreeEntry } from "./image-tree.js";
import { layerSteps } from "./oci-layout.js";
import type { ImageConfig, ImageRunSettings } from "./oci-layout.js";

/** The config fields compared (issue 13). */
export const CONFIG_FIELDS = [
  "Env",
  "Entrypoint",
  "Cmd",
  "WorkingDir",
  "User",
  "ExposedPorts",
  "Labels",
  "Volumes",
  "StopSignal",
] as const;

/** One compared config field. */
export type ConfigField = (typeof CONFIG_FIELDS)[number];

/** The tree attributes compared. */
export type EntryField = "type" | "mode" | "size" | "content" | "target" | "owner";

/** A path whose entries differ, or that only one image has. */
export interface PathDifference {
  kind: "path";
  path: string;
  /** Podman's entry (absent: only burrow's image has the path). */
  podman?: TreeEntry;
  /** burrow's entry (absent: only Podman's image has the path). */
  burrow?: TreeEntry;
  /** What differs where both have the path. */
  fields: EntryField[];
  /** The build step that last wrote the path in Podman's image (else burrow's), as its history says. */
  step: string;
}

/** A config field that differs, or one Labels key that does (each label is its own difference). */
export interface ConfigDifference {
  kind: "config";
  field: ConfigField;
  /** The label's key, for Labels. */
  key?: string;
  podman: unknown;
  burrow: unknown;
}

/** Either kind of difference. */
export type Difference = PathDifference | ConfigDifference;

/** What a comparison found, sorted out. */
export interface Comparison {
  /** Differences no documented one explains: the test fails on these. */
  unexpected: Difference[];
  /** Differences that only concern the owner of files a RUN step made (reported apart: see the test). */
  runOwners: PathDifference[];
  /** Differences explained, with the documented difference that explains each. */
  documented: { difference: Difference; by: DocumentedDifference }[];
}

/** A step's history text shortened for messages. */
function shortStep(createdBy: string | undefined): string {
  if (createdBy === undefined) return "(no history)";
  const s = createdBy.replace(/\s+/g, " ").trim();
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * True when a history row's `created_by` is a RUN step as Docker, BuildKit, Buildah (and so burrow,
 * which writes Docker's form) record it: a shell or exec command, not a `#(nop)` metadata or COPY/ADD row.
 */
export function isRunStep(createdBy: string | undefined): boolean {
  if (!createdBy) return false;
  const s = createdBy.trim();
  if (/#\(nop\)/.test(s)) return false;
  if (
    /^(COPY|ADD|ENV|LABEL|WORKDIR|USER|ENTRYPOINT|CMD|EXPOSE|VOLUME|STOPSIGNAL|ARG|SHELL|HEALTHCHECK|ONBUILD)\b/.test(
      s,
    )
  )
    return false;
  return true;
}

/** The attributes of two entries that differ. */
export function entryFields(a: TreeEntry, b: TreeEntry): EntryField[] {
  const f: EntryField[] = [];
  if (a.type !== b.type) f.push("type");
  if (a.mode !== b.mode) f.push("mode");
  if (a.size !== b.size) f.push("size");
  if (a.sha256 !== b.sha256) f.push("content");
  if (a.target !== b.target) f.push("target");
  if (a.uid !== b.uid || a.gid !== b.gid) f.push("owner");
  return f;
}

/** The path differences between Podman's tree and burrow's, each with the step that wrote the path. */
export function diffTrees(
  podman: Tree,
  burrow: Tree,
  podmanConfig: ImageConfig,
  burrowConfig: ImageConfig,
): PathDifference[] {
  const podmanSteps = layerSteps(podmanConfig);
  const burrowSteps = layerSteps(burrowConfig);
  const out: PathDifference[] = [];
  const paths = [...new Set([...podman.keys(), ...burrow.keys()])].sort();
  for (const p of paths) {
    const a = podman.get(p);
    const b = burrow.get(p);
    const fields = a && b ? entryFields(a, b) : [];
    if (a && b && fields.length === 0) continue;
    const step = a ? podmanSteps[a.layer]?.created_by : burrowSteps[b!.layer]?.created_by;
    const d: PathDifference = { kind: "path", path: p, fields, step: step ?? "" };
    if (a) d.podman = a;
    if (b) d.burrow = b;
    out.push(d);
  }
  return out;
}

/** A value as JSON with sorted keys, so that equal objects compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Empty objects and arrays and null read as absent (Docker writes either). */
function orAbsent(v: unknown): unknown {
  if (v === null || v === undefined || v === "") return undefined;
  if (Array.isArray(v) && v.length === 0) return undefined;
  if (typeof v === "object" && Object.keys(v).length === 0) return undefined;
  return v;
}

/** The config differences, Labels key by key. */
export function diffConfigs(podman: ImageRunSettings, burrow: ImageRunSettings): ConfigDifference[] {
  const out: ConfigDifference[] = [];
  for (const field of CONFIG_FIELDS) {
    if (field === "Labels") {
      const a = podman.Labels ?? {};
      const b = burrow.Labels ?? {};
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (a[key] !== b[key]) out.push({ kind: "config", field, key, podman: a[key], burrow: b[key] });
      }
      continue;
    }
    const a = orAbsent(podman[field]);
    const b = orAbsent(burrow[field]);
    if (canonical(a) !== canonical(b)) out.push({ kind: "config", field, podman: a, burrow: b });
  }
  return out;
}

/** Sorts differences out: documented, owner-only on RUN-made files, unexpected. */
export function sortDifferences(diffs: readonly Difference[], documented = BUILD_DIFFERENCES): Comparison {
  const result: Comparison = { unexpected: [], runOwners: [], documented: [] };
  for (const d of diffs) {
    const by = documented.find((doc) => doc.matches(d));
    if (by) result.documented.push({ difference: d, by });
    else if (
      d.kind === "path" &&
      d.podman &&
      d.burrow &&
      d.fields.every((f) => f === "owner") &&
      isRunStep(d.step)
    )
      result.runOwners.push(d);
    else result.unexpected.push(d);
  }
  return result;
}

/** Compares the two images (trees and configs). */
export function compareImages(
  podman: { tree: Tree; config: ImageConfig },
  burrow: { tree: Tree; config: ImageConfig },
): Comparison {
  return sortDifferences([
    ...diffConfigs(podman.config.config ?? {}, burrow.config.config ?? {}),
    ...diffTrees(podman.tree, burrow.tree, podman.config, burrow.config),
  ]);
}

/** An entry in one short line: `file 0644 1000:1000 12 B sha256:abcd1234` or `symlink -> x`. */
export function describeEntry(e: TreeEntry | undefined): string {
  if (!e) return "(absent)";
  const base = `${e.type} ${e.mode.toString(8).padStart(4, "0")} ${e.uid}:${e.gid}`;
  if (e.type === "file") return `${base} ${e.size} B sha256:${(e.sha256 ?? "").slice(0, 12)}`;
  if (e.type === "symlink") return `${base} -> ${e.target}`;
  return base;
}

/** One difference in one line, for assertion messages. */
export function describeDifference(d: Difference): string {
  if (d.kind === "config") {
    const name = d.key === undefined ? d.field : `Labels[${JSON.stringify(d.key)}]`;
    return `config ${name}: podman ${JSON.stringify(d.podman)} | burrow ${JSON.stringify(d.burrow)}`;
  }
  const what = !d.burrow ? "only in podman's" : !d.podman ? "only in burrow's" : d.fields.join(",");
  return `/${d.path} [${what}] podman ${describeEntry(d.podman)} | burrow ${describeEntry(d.burrow)} (step: ${shortStep(d.step)})`;
}

/** A list of differences as message lines, at most `max` of them and a count of the rest. */
export function describeDifferences(diffs: readonly Difference[], max = 60): string {
  const shown = diffs.slice(0, max).map((d) => `  ${describeDifference(d)}`);
  if (diffs.length > max) shown.push(`  ... and ${diffs.length - max} more`);
  return shown.join("\n");
}
