// The container name rule: udocker's (users bring scripts with `--name=_`) joined with docker's (`my.box`).
import { printable } from "../cli/printable.js";
import { InvalidArgumentError } from "../errors.js";

/** docker's names: a letter or digit, then letters, digits, `_`, `.`, `-`. */
const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** What udocker refuses in a name (its aliases are links in its containers folder). */
const UDOCKER_REFUSED = /[/. [\]]/;

/** The longest name udocker takes. */
const MAX_LENGTH = 2048;

/**
 * Why `name` cannot name a container, or undefined when it can. A name is good when udocker takes it
 * (anything but `/`, `.`, space, `[`, `]`) or docker does (`my.box`); burrow also refuses what would
 * make it unreadable or ambiguous: control characters and other blanks, and a 64-digit id.
 */
export function containerNameProblem(name: string): string | undefined {
  if (name === "") return "a name cannot be empty";
  if (name.length > MAX_LENGTH) return `a name has at most ${MAX_LENGTH} characters`;
  if (/^[a-f0-9]{64}$/.test(name)) return "a 64-digit hex name would read as a container id";
  const udocker =
    "udocker's rule refuses / . space [ ] in a name, and docker's takes dots only after a letter or digit (my.box): pick another";
  // Tabs, newlines, escapes and other invisible or blank characters (udocker has no rule for them).
  if (/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}]|[^\P{Z} ]/u.test(name)) {
    return "a name cannot hold blanks or control characters: pick another";
  }
  if (/[/ [\]]/.test(name)) return udocker;
  if (DOCKER_NAME.test(name) || !UDOCKER_REFUSED.test(name)) return undefined;
  return udocker;
}

/** Checks a container name; a user mistake is an InvalidArgumentError saying what is allowed. */
export function checkContainerName(name: string): void {
  const problem = containerNameProblem(name);
  if (problem !== undefined) {
    throw new InvalidArgumentError(`invalid container name "${printable(name)}": ${problem}`);
  }
}
