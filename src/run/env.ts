// The program's environment: the image's Env, then -e and --env-file, with docker's defaults.
import fs from "node:fs";
import { InvalidArgumentError } from "../errors.js";

/** The PATH docker gives a container whose image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Parses one `-e` value: `K=V`, or `K` alone taken from the host (dropped when unset there). */
export function parseEnvArg(arg: string, host: NodeJS.ProcessEnv): [string, string] | undefined {
  const eq = arg.indexOf("=");
  const key = eq < 0 ? arg : arg.slice(0, eq);
  if (key.length === 0 || /\s/.test(key)) {
    throw new InvalidArgumentError(`invalid environment variable "${arg}": use NAME=VALUE or NAME`);
  }
  if (eq >= 0) return [key, arg.slice(eq + 1)];
  const v = host[key];
  return v === undefined ? undefined : [key, v];
}

/** Reads an env file: `K=V` or `K` lines; blank lines and `#` comments are skipped. */
export function readEnvFile(file: string, host: NodeJS.ProcessEnv): [string, string][] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new InvalidArgumentError(`cannot read --env-file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const out: [string, string][] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    try {
      const kv = parseEnvArg(line, host);
      if (kv) out.push(kv);
    } catch {
      throw new InvalidArgumentError(`--env-file ${file} line ${i + 1}: expected NAME=VALUE, got "${raw}"`);
    }
  }
  return out;
}

/** Merges layers of variables in order (later wins), keeping first-seen order of names. */
export function mergeEnv(...layers: (string[] | [string, string][])[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const layer of layers) {
    for (const item of layer) {
      if (typeof item === "string") {
        const eq = item.indexOf("=");
        if (eq <= 0) continue;
        env.set(item.slice(0, eq), item.slice(eq + 1));
      } else {
        env.set(item[0], item[1]);
      }
    }
  }
  return env;
}

/** `K=V` strings from a map. */
export function envList(env: Map<string, string>): string[] {
  return [...env].map(([k, v]) => `${k}=${v}`);
}
