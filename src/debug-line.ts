// The `--debug` line writer, one for every command and for the run path (`burrow: debug: ...` on stderr).
/** What a writer needs of a command: its --debug and its stderr. */
export interface DebugSource {
  readonly debug: boolean;
  readonly context: { readonly stderr: NodeJS.WritableStream };
}

/** Writes each line as `burrow: debug: LINE` on `cmd`'s stderr; undefined without --debug. */
export function debugWriter(cmd: DebugSource): ((line: string) => void) | undefined {
  if (!cmd.debug) return undefined;
  const stderr = cmd.context.stderr;
  return (line) => stderr.write(`burrow: debug: ${line}\n`);
}
