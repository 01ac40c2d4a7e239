// The command named on a command line, as the launcher reads it before loading any command.

/** The command name in `argv` (the words after `burrow`): the first word that is no option or option value. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--repo") i++;
    else if (!a.startsWith("-")) return a;
  }
  return undefined;
}
