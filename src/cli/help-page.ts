// What `burrow help` and `burrow COMMAND --help` print, from clipanion's command definitions: the commands
// grouped as users think of them, the global options once (as docker and udocker print their help).
import type { Definition } from "clipanion";

/** The groups of `burrow help`, in order, each with its commands in the order they are listed. */
export const HELP_GROUPS: readonly { title: string; commands: readonly string[] }[] = [
  {
    title: "Images",
    commands: [
      "pull",
      "build",
      "images",
      "history",
      "inspect",
      "tag",
      "rmi",
      "verify",
      "save",
      "load",
      "import",
    ],
  },
  {
    title: "Containers",
    commands: ["create", "ps", "name", "rmname", "rename", "clone", "export", "protect", "unprotect", "rm"],
  },
  { title: "Running", commands: ["run", "exec", "logs", "stop"] },
  { title: "Registries", commands: ["push", "login", "logout", "search"] },
  { title: "Set-up", commands: ["install", "setup", "info", "showconf", "mkrepo", "version", "help"] },
];

/** docker's two-word forms that burrow also takes, as the list's last lines say. */
const DOCKER_FORMS = [
  "burrow image ls|pull|build|push|history|inspect|tag|rm|save|load|import",
  "burrow container create|ls|rename|export|rm|exec|logs|stop",
];

/** The widest command column before a description goes on the next line. */
const COLUMN = 34;

/** The command name a definition is for (`burrow pull <IMAGE>` -> `pull`). */
export function commandName(def: Definition): string {
  return def.usage.split(" ")[1] ?? "";
}

/**
 * The help a command line asks for in its plain forms: "list" for `burrow`, `burrow help`, `burrow --help`,
 * `burrow -h`; NAME for `burrow NAME --help` (or `-h`) and `burrow help NAME`, NAME one of `commands`;
 * undefined for anything else (clipanion reads it).
 */
export function helpPage(argv: readonly string[], commands: readonly string[]): "list" | string | undefined {
  const [first, second, ...rest] = argv;
  if (first === undefined || (second === undefined && ["help", "--help", "-h"].includes(first)))
    return "list";
  const known = (w: string): boolean => commands.includes(w) && !w.startsWith("__");
  if (second === undefined || rest.length > 0) return undefined;
  if (first === "help" && known(second)) return second;
  if (known(first) && (second === "--help" || second === "-h")) return first;
  return undefined;
}

/** The options every command takes (the global ones), in the order the commands declare them. */
export function globalOptions(defs: readonly Definition[]): Definition["options"] {
  const [first, ...rest] = defs;
  if (first === undefined) return [];
  return first.options.filter((o) => rest.every((d) => d.options.some((x) => x.definition === o.definition)));
}

/** An option's name: clipanion's `--repo #0` as `--repo VALUE`, `-D,--debug` as `-D, --debug` (or `-D/--debug`). */
function optionName(definition: string, joiner = ", "): string {
  return definition.replace(/ #0$/, " VALUE").replace(/,/g, joiner);
}

/** A description on one line (clipanion's end with a newline). */
const oneLine = (text: string | undefined): string => (text ?? "").replace(/\s+/g, " ").trim();

/** The width of a first column holding `cells`: the widest, at most COLUMN (a longer cell puts its text below). */
const widthOf = (cells: string[]): number => Math.min(COLUMN, Math.max(0, ...cells.map((c) => c.length)));

/** Rows of two columns, the first `width` wide. */
function table(rows: [string, string][], width: number): string {
  return rows
    .map(([a, b]) =>
      b === ""
        ? `  ${a}\n`
        : a.length > width
          ? `  ${a}\n  ${" ".repeat(width + 2)}${b}\n`
          : `  ${a.padEnd(width)}  ${b}\n`,
    )
    .join("");
}

/** Options as rows of a table. */
const optionRows = (options: Definition["options"]): [string, string][] =>
  options.map((o) => [optionName(o.definition), oneLine(o.description)]);

/** `burrow help`: the commands by group (a command in no group under "Other"), then the global options once. */
export function commandList(defs: readonly Definition[], version: string): string {
  const byName = new Map(defs.map((d) => [commandName(d), d]));
  const grouped = new Set(HELP_GROUPS.flatMap((g) => g.commands));
  const groups = [
    ...HELP_GROUPS.map((g) => ({ title: g.title, defs: g.commands.flatMap((c) => byName.get(c) ?? []) })),
    { title: "Other", defs: defs.filter((d) => !grouped.has(commandName(d))) },
  ].filter((g) => g.defs.length > 0);
  const globals = optionRows(globalOptions(defs));
  const width = widthOf([...defs.map((d) => d.usage), ...globals.map(([name]) => name)]);
  let out = `burrow ${version}: rootless, daemonless containers\n\n`;
  out += "Usage: burrow [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARG...]\n";
  for (const g of groups) {
    out += `\n${g.title}\n`;
    out += table(
      g.defs.map((d) => [d.usage, oneLine(d.description)]),
      width,
    );
  }
  out += "\nGlobal options (before or after the command)\n";
  out += table(globals, width);
  out += `\ndocker's forms work too: ${DOCKER_FORMS.join(", ")}.\n`;
  out += "Run 'burrow COMMAND --help' (or 'burrow help COMMAND') for a command's options.\n";
  return out;
}

/** `burrow COMMAND --help`: what it does, its usage, its own options, then details and examples. */
export function commandPage(def: Definition, globals: Definition["options"]): string {
  const global = new Set(globals.map((o) => o.definition));
  const own = def.options.filter((o) => !global.has(o.definition));
  const name = commandName(def);
  const args = def.usage.split(" ").slice(2).join(" ");
  const description = oneLine(def.description);
  let out = description ? `${description.replace(/^./, (c) => c.toUpperCase())}\n\n` : "";
  out += `Usage: burrow ${name}${own.length > 0 ? " [OPTIONS]" : ""}${args ? ` ${args}` : ""}\n`;
  if (own.length > 0) {
    out += "\nOptions\n";
    const rows = optionRows(own);
    out += table(rows, widthOf(rows.map(([name]) => name)));
  }
  out += `\nGlobal options: ${globals.map((o) => optionName(o.definition, "/")).join(", ")} (see 'burrow help')\n`;
  if (def.details) out += `\nDetails\n\n${def.details.trimEnd()}\n`;
  if (def.examples && def.examples.length > 0) {
    out += "\nExamples\n";
    for (const [label, cmd] of def.examples) out += `\n${label.trimEnd()}\n  $ ${cmd}\n`;
  }
  return out;
}
