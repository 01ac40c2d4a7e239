// A stand-in host file system for the CDI and --gpu tests (src/run/cdi.ts's HostFs), from a table of paths.
import path from "node:path";
import type { HostFs } from "../../../src/run/cdi.js";

/** A stand-in host: paths with their kinds, and symlinks (path -> real path). */
export function fakeHost(
  kinds: Record<string, "char" | "block" | "file" | "dir">,
  links: Record<string, string> = {},
): HostFs {
  const real = (p: string): string | undefined =>
    links[p] !== undefined ? links[p] : p in kinds ? p : undefined;
  return {
    kind: (p) => {
      const r = real(p);
      return r === undefined ? undefined : kinds[r];
    },
    list: (dir) =>
      [...Object.keys(kinds), ...Object.keys(links)]
        .filter((p) => path.dirname(p) === dir)
        .map((p) => path.basename(p)),
    realpath: real,
  };
}
