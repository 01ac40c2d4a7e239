// Copies the built CLI where the unprivileged user can read it, as an installed package would look.
import fs from "node:fs/promises";
import path from "node:path";
import { runProgram } from "./proc.js";

/** The runtime dependencies' top-level folders in node_modules, from package-lock.json; undefined: copy all. */
async function runtimeModuleDirs(repoRoot: string): Promise<string[] | undefined> {
  let lock: { packages?: Record<string, { dev?: boolean; devOptional?: boolean }> };
  try {
    lock = JSON.parse(await fs.readFile(path.join(repoRoot, "package-lock.json"), "utf8")) as typeof lock;
  } catch {
    return undefined;
  }
  if (!lock.packages) return undefined;
  const dirs = Object.entries(lock.packages)
    .filter(([key, meta]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(key) && !meta.dev && !meta.devOptional)
    .map(([key]) => key);
  return dirs;
}

/**
 * Copies dist/, the runtime node_modules, package.json, engines/ and vendor/ from `repoRoot` into
 * `stageDir/pkg`, readable and searchable by everyone. Returns the staged package root.
 */
export async function stagePackage(repoRoot: string, stageDir: string): Promise<string> {
  const pkg = path.join(stageDir, "pkg");
  await fs.mkdir(path.join(pkg, "node_modules"), { recursive: true });
  const tops = ["dist", "package.json", "engines", "vendor"];
  const present = async (rel: string): Promise<boolean> =>
    fs.access(path.join(repoRoot, rel)).then(
      () => true,
      () => false,
    );
  const copies: string[][] = [];
  for (const t of tops) if (await present(t)) copies.push([t]);
  const modules = await runtimeModuleDirs(repoRoot);
  if (modules === undefined) {
    copies.push(["node_modules"]);
  } else {
    for (const m of modules) {
      if (!(await present(m))) continue; // An optional dependency for another platform.
      const scope = path.dirname(m);
      if (scope !== "node_modules") await fs.mkdir(path.join(pkg, scope), { recursive: true });
      copies.push([m, scope]);
    }
  }
  // One cp per destination folder keeps the number of processes small.
  const byDest = new Map<string, string[]>();
  for (const [src, destRel] of copies) {
    const dest = path.join(pkg, destRel === undefined ? "" : destRel);
    byDest.set(dest, [...(byDest.get(dest) ?? []), path.join(repoRoot, src!)]);
  }
  await Promise.all(
    [...byDest].map(([dest, srcs]) =>
      runProgram("cp", ["-a", "--no-preserve=ownership", ...srcs, dest + "/"]),
    ),
  );
  await runProgram("chmod", ["-R", "a+rX,go-w", stageDir]);
  return pkg;
}
