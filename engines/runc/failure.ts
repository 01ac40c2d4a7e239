// Reads runc's JSON log after a run: its own failure (if any), and exec failures mapped to 126/127 as a shell would.

/** What runc's log says about a run. */
export type RuncOutcome =
  /** runc logged no failure of its own: the status is the program's. */
  | { kind: "ran" }
  /** The program could not be started: `status` 126/127 and one `burrow: ...` line. */
  | { kind: "exec"; status: 126 | 127; message: string }
  /** runc itself failed (125): its last error message. */
  | { kind: "engine"; message: string };

/** The messages of the error and fatal entries of a JSON log (`--log-format json`), in order. */
export function logErrors(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if ((entry.level === "error" || entry.level === "fatal") && typeof entry.msg === "string") {
        out.push(entry.msg);
      }
    } catch {
      // A line that is not JSON (a crash trace): not an entry.
    }
  }
  return out;
}

/** A Go %q string's contents unquoted (best effort). */
function unquote(q: string): string {
  try {
    return JSON.parse(`"${q}"`) as string;
  } catch {
    return q;
  }
}

/** Classifies runc's last logged error: none, an exec failure of the program, or runc's own. */
export function classify(log: string): RuncOutcome {
  const errors = logErrors(log);
  const last = errors[errors.length - 1];
  if (last === undefined) return { kind: "ran" };
  const m = /exec: "((?:[^"\\]|\\.)*)": (.*)$/.exec(last);
  if (m) {
    const prog = unquote(m[1]!);
    const why = m[2]!;
    if (/executable file not found/.test(why)) {
      return { kind: "exec", status: 127, message: `burrow: ${prog}: command not found` };
    }
    if (/no such file or directory/i.test(why)) {
      return { kind: "exec", status: 127, message: `burrow: ${prog}: No such file or directory` };
    }
    const reason = why.replace(/^.*: /, "");
    return {
      kind: "exec",
      status: 126,
      message: `burrow: ${prog}: cannot execute: ${reason.charAt(0).toUpperCase()}${reason.slice(1)}`,
    };
  }
  return { kind: "engine", message: last.replace(/^(runc|crun)( run)?( failed)?: /, "") };
}

/** Whether a chunk of runc's stderr is runc's own fatal message (held back: the log says it better). */
export function isRuntimeMessage(chunk: string): boolean {
  return /^(runc run failed: |crun: |time="[^"]*" level=)/.test(chunk);
}
