// The documented differences between an image `burrow build` makes and the one `podman build` (Buildah)
// makes from the same Dockerfile: the comparison in build-compare.ts accepts these and nothing else.
// Not compared at all, by design: mtimes (each build has its own), layer boundaries and digests (only the
// merged tree counts), the history rows and `created`.
import type { Difference, EntryField } from "./build-compare.js";

/** One accepted difference: what it matches and why it is accepted (the README copies this list). */
export interface DocumentedDifference {
  /** Short stable name. */
  id: string;
  /** Why the two builders differ here, in a sentence. */
  reason: string;
  /** True when this difference explains `d`. */
  matches(d: Difference): boolean;
}

/** A path difference that only Podman's image has (the path is absent from burrow's). */
const onlyInPodman =
  (path: RegExp, also: (d: Difference) => boolean = () => true) =>
  (d: Difference): boolean =>
    d.kind === "path" && !d.burrow && !!d.podman && path.test(d.path) && also(d);

/** A path both have whose only differing fields are among `fields`. */
const bothDiffer =
  (path: RegExp, fields: EntryField[]) =>
  (d: Difference): boolean =>
    d.kind === "path" &&
    !!d.burrow &&
    !!d.podman &&
    path.test(d.path) &&
    d.fields.every((f) => fields.includes(f));

/** Files a package manager's run writes with the time or the build's random state in them. */
const RUN_LOGS_AND_CACHES = new RegExp(
  "^(var/log/(apt/(eipp\\.log\\.xz|history\\.log|term\\.log)|dpkg\\.log|alternatives\\.log)" +
    "|var/cache/apt/(pkgcache|srcpkgcache)\\.bin|var/cache/ldconfig/aux-cache" +
    "|var/cache/debconf/(config|templates)\\.dat(-old)?|var/lib/dpkg/status-old|var/lib/apt/extended_states)$",
);

/** The accepted differences, each with its reason. */
export const BUILD_DIFFERENCES: readonly DocumentedDifference[] = [
  {
    id: "buildah-version-label",
    reason:
      "Buildah stamps every image it commits with the label io.buildah.version (its own version); " +
      "Docker and burrow add no label of their own.",
    matches: (d) =>
      d.kind === "config" && d.field === "Labels" && d.key === "io.buildah.version" && d.burrow === undefined,
  },
  {
    id: "buildah-run-mount-points",
    reason:
      "Buildah bind-mounts /etc/hosts, /etc/resolv.conf, /etc/hostname and /run/.containerenv into each RUN " +
      "and, where the image had no such file, leaves the empty file it mounted on in the layer; Docker " +
      "and burrow leave nothing behind.",
    matches: onlyInPodman(
      /^(etc\/(hosts|resolv\.conf|hostname)|run\/\.containerenv|run|run\/secrets)$/,
      (d) => d.kind === "path" && d.podman!.size === 0,
    ),
  },
  {
    id: "package-logs-and-caches",
    reason:
      "apt and dpkg write the time of the run (logs), and binary caches whose bytes depend on it, so two " +
      "builds of the same apt-get step, by the same tool or not, differ there in content and size.",
    matches: bothDiffer(RUN_LOGS_AND_CACHES, ["size", "content"]),
  },
];
