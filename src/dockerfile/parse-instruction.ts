// One logical line to one instruction: the keyword (any case), its flags and its arguments checked as
// Docker's reference describes them. A mistake is a DockerfileError naming the line.
import { DockerfileError } from "./errors.js";
import { parseDuration } from "./duration.js";
import { checkFlags, extractFlags, parseJsonArray, parseKeyValues, splitWords, type Flags } from "./words.js";
import type { Command, HealthcheckInstruction, Instruction, InstructionBase } from "./instructions.js";
import type { LogicalLine } from "./lines.js";

// A heredoc as Docker finds one: a word of its own, `<<` (after an optional fd number), `-`, a quoted name.
const HEREDOC = /(^|[ \t])\d*<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\2(?=$|[ \t])/;
const STAGE_NAME = /^[a-z][a-z0-9_.-]*$/;

/** Parses one logical line; `escape` is the Dockerfile's escape character. */
export function parseInstruction(logical: LogicalLine, escape: string): Instruction {
  const m = /^(\S+)(?:[ \t]+(.*))?$/s.exec(logical.text);
  const keyword = (m?.[1] ?? "").toUpperCase();
  const base: InstructionBase = { line: logical.line, endLine: logical.endLine, original: logical.text };
  const line = logical.line;
  const { flags, rest } = extractFlags(m?.[2] ?? "", escape);
  const fail = (message: string): never => {
    throw new DockerfileError(line, message);
  };
  const needArgs = (): void => {
    if (rest === "") fail(`${keyword} requires at least one argument`);
  };
  if (["RUN", "COPY", "ADD"].includes(keyword) && HEREDOC.test(rest)) {
    fail(`${keyword} with a heredoc (<<) is not supported by burrow; put the text in a file and COPY it`);
  }
  switch (keyword) {
    case "FROM": {
      checkFlags(keyword, flags, line, ["platform"]);
      const words = rest.split(/[ \t]+/).filter((w) => w !== "");
      if (words.length === 3 && words[1]!.toUpperCase() === "AS") {
        const name = words[2]!.toLowerCase();
        if (!STAGE_NAME.test(name)) {
          fail(
            `invalid stage name "${words[2]}": it must start with a letter and hold only letters, digits, -, _ and .`,
          );
        }
        return { ...base, kind: "FROM", image: words[0]!, name, ...platform(flags) };
      }
      if (words.length !== 1) fail("FROM requires either one or three arguments (FROM image [AS name])");
      return { ...base, kind: "FROM", image: words[0]!, ...platform(flags) };
    }
    case "RUN": {
      checkFlags(keyword, flags, line, ["network"], ["mount", "security", "device"]);
      needArgs();
      const network = flags.get("network");
      if (network !== undefined && network !== "default" && network !== "host") {
        fail(`RUN --network=${network} is not supported by burrow (a build step runs on the host's network)`);
      }
      return {
        ...base,
        kind: "RUN",
        command: command(rest),
        ...(network === undefined ? {} : { network: network as "default" | "host" }),
      };
    }
    case "CMD":
    case "ENTRYPOINT":
      checkFlags(keyword, flags, line, []);
      needArgs();
      return { ...base, kind: keyword, command: command(rest) };
    case "SHELL": {
      checkFlags(keyword, flags, line, []);
      const shell = parseJsonArray(rest);
      if (shell === undefined)
        fail('SHELL requires the arguments to be in JSON form (SHELL ["/bin/sh", "-c"])');
      if (shell!.length === 0) fail("SHELL requires at least one argument");
      return { ...base, kind: "SHELL", shell: shell! };
    }
    case "COPY":
    case "ADD": {
      if (keyword === "COPY")
        checkFlags(keyword, flags, line, ["from", "chown", "chmod", "link"], ["parents", "exclude"]);
      else
        checkFlags(
          keyword,
          flags,
          line,
          ["chown", "chmod", "link"],
          ["checksum", "keep-git-dir", "exclude", "unpack"],
        );
      const json = parseJsonArray(rest);
      const words = json ?? rest.split(/[ \t]+/).filter((w) => w !== "");
      if (words.length < 2) fail(`${keyword} requires at least two arguments, but got ${words.length}`);
      const link = flags.get("link");
      if (link !== undefined && link !== "" && link !== "true" && link !== "false") {
        fail(`${keyword} --link takes no value or true/false, not "${link}"`);
      }
      return {
        ...base,
        kind: keyword,
        sources: words.slice(0, -1),
        dest: words.at(-1)!,
        json: json !== undefined,
        ...optional(flags, "from", "from", line, keyword),
        ...optional(flags, "chown", "chown", line, keyword),
        ...optional(flags, "chmod", "chmod", line, keyword),
        link: link === "" || link === "true",
      };
    }
    case "ENV":
    case "LABEL":
      checkFlags(keyword, flags, line, []);
      return { ...base, kind: keyword, pairs: parseKeyValues(keyword, rest, line, escape) };
    case "ARG": {
      checkFlags(keyword, flags, line, []);
      const words = splitWords(rest, escape);
      if (words.length === 0) fail("ARG requires at least one argument");
      const args = words.map((word) => {
        const eq = word.indexOf("=");
        const name = eq < 0 ? word : word.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail(`ARG: invalid name "${name}"`);
        return eq < 0 ? { name } : { name, default: word.slice(eq + 1) };
      });
      return { ...base, kind: "ARG", args };
    }
    case "WORKDIR":
    case "USER":
    case "STOPSIGNAL":
      checkFlags(keyword, flags, line, []);
      if (rest === "") fail(`${keyword} requires exactly one argument`);
      if (keyword !== "WORKDIR" && splitWords(rest, escape).length !== 1) {
        fail(`${keyword} requires exactly one argument`);
      }
      return { ...base, kind: keyword, value: rest };
    case "EXPOSE":
      checkFlags(keyword, flags, line, []);
      needArgs();
      return { ...base, kind: "EXPOSE", ports: rest.split(/[ \t]+/).filter((w) => w !== "") };
    case "VOLUME": {
      checkFlags(keyword, flags, line, []);
      needArgs();
      const json = parseJsonArray(rest);
      const paths = json ?? rest.split(/[ \t]+/).filter((w) => w !== "");
      if (paths.length === 0 || paths.some((p) => p.trim() === ""))
        fail("VOLUME specified can not be an empty string");
      return { ...base, kind: "VOLUME", paths, json: json !== undefined };
    }
    case "HEALTHCHECK":
      return { ...base, ...healthcheck(flags, rest, line) };
    case "ONBUILD": {
      checkFlags(keyword, flags, line, []);
      needArgs();
      const triggerWord = (/^\S+/.exec(rest)?.[0] ?? "").toUpperCase();
      if (triggerWord === "ONBUILD") fail("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (triggerWord === "FROM" || triggerWord === "MAINTAINER") {
        fail(`${triggerWord} isn't allowed as an ONBUILD trigger`);
      }
      const trigger = parseInstruction({ line, endLine: logical.endLine, text: rest }, escape);
      return { ...base, kind: "ONBUILD", trigger, expression: rest };
    }
    case "MAINTAINER":
      checkFlags(keyword, flags, line, []);
      needArgs();
      return { ...base, kind: "MAINTAINER", maintainer: rest };
    default:
      return fail(`unknown instruction: ${m?.[1] ?? logical.text}`);
  }

  function command(text: string): Command {
    const args = parseJsonArray(text);
    return args === undefined ? { form: "shell", text } : { form: "exec", args };
  }
}

function platform(flags: Flags): { platform?: string } {
  const value = flags.get("platform");
  return value === undefined || value === "" ? {} : { platform: value };
}

function optional<K extends string>(
  flags: Flags,
  name: string,
  key: K,
  line: number,
  keyword: string,
): { [P in K]?: string } {
  const value = flags.get(name);
  if (value === undefined) return {};
  if (value === "") throw new DockerfileError(line, `${keyword} --${name} requires a value`);
  return { [key]: value } as { [P in K]?: string };
}

const DURATIONS = {
  interval: "interval",
  timeout: "timeout",
  "start-period": "startPeriod",
  "start-interval": "startInterval",
} as const;

/** HEALTHCHECK NONE or HEALTHCHECK [--interval=D ...] CMD command. */
function healthcheck(
  flags: Flags,
  rest: string,
  line: number,
): Omit<HealthcheckInstruction, keyof InstructionBase> {
  checkFlags("HEALTHCHECK", flags, line, [...Object.keys(DURATIONS), "retries"]);
  const m = /^(\S+)(?:[ \t]+(.*))?$/s.exec(rest);
  const type = (m?.[1] ?? "").toUpperCase();
  if (type === "NONE") {
    if (m?.[2] !== undefined) throw new DockerfileError(line, "HEALTHCHECK NONE takes no arguments");
    if (flags.size > 0) throw new DockerfileError(line, "HEALTHCHECK NONE takes no options");
    return { kind: "HEALTHCHECK", test: ["NONE"] };
  }
  if (type !== "CMD") {
    throw new DockerfileError(line, `HEALTHCHECK: unknown type "${m?.[1] ?? ""}" (NONE or CMD)`);
  }
  const text = (m?.[2] ?? "").trim();
  if (text === "") throw new DockerfileError(line, "HEALTHCHECK CMD requires a command");
  const args = parseJsonArray(text);
  const result: Omit<HealthcheckInstruction, keyof InstructionBase> = {
    kind: "HEALTHCHECK",
    test: args === undefined ? ["CMD-SHELL", text] : ["CMD", ...args],
  };
  for (const [flag, key] of Object.entries(DURATIONS)) {
    const value = flags.get(flag);
    if (value === undefined) continue;
    const ns = parseDuration(value);
    if (ns === undefined)
      throw new DockerfileError(line, `HEALTHCHECK --${flag}: invalid duration "${value}"`);
    if (ns !== 0 && ns < 1e6)
      throw new DockerfileError(line, `HEALTHCHECK --${flag} cannot be less than 1ms`);
    result[key] = ns;
  }
  const retries = flags.get("retries");
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries))
      throw new DockerfileError(line, `HEALTHCHECK --retries must be a whole number ≥ 0, not "${retries}"`);
    result.retries = Number(retries);
  }
  return result;
}
