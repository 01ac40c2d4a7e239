// The program's environment as the engines hand it to spawn(): shared by every engine that runs a RunSpec.
/** The program's environment as an object: `K=V` strings split at the first `=`; a later `K` wins. */
export function envObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new RangeError(`environment entry ${JSON.stringify(entry)} is not of the form K=V`);
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}
