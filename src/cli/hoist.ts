// Accepting global options before the command name, as udocker users write them.

/** Options valid on every command; udocker users put them before the command name. */
const GLOBAL_FLAGS = new Set(["-D", "--debug", "-q", "--quiet", "--insecure", "--offline"]);

/** Moves global options written before the command name (`burrow --repo X pull`) after it. */
export function hoistGlobalOptions(argv: string[]): string[] {
  const globals: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (GLOBAL_FLAGS.has(a) || a.startsWith("--repo=")) {
      globals.push(a);
      i++;
    } else if (a === "--repo" && i + 1 < argv.length) {
      globals.push(a, argv[i + 1]!);
      i += 2;
    } else {
      break;
    }
  }
  if (globals.length === 0 || i >= argv.length) return argv;
  const rest = argv.slice(i);
  // The command path is the leading words that are not options.
  let pathLen = 0;
  while (pathLen < rest.length && !rest[pathLen]!.startsWith("-") && pathLen < 1) pathLen++;
  return [...rest.slice(0, pathLen), ...globals, ...rest.slice(pathLen)];
}
