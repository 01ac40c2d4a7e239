// Applies variable substitution to the parts of an instruction where Docker applies it (ADD, COPY, ENV,
// EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG defaults); RUN, CMD, ENTRYPOINT, SHELL,
// HEALTHCHECK and ONBUILD are returned as written (the shell, or the child build, substitutes). COPY --from
// is left too: it sees only the global ARGs (stages.ts, fromRef), as BuildKit resolves it before the build.
import { DockerfileError } from "./errors.js";
import { SubstitutionError, substituteWord, substituteWords, type Lookup } from "./substitute.js";
import type { Instruction } from "./instructions.js";

/** The instruction with its variables resolved through `lookup` (all from the values before it). */
export function expandInstruction<T extends Instruction>(instruction: T, lookup: Lookup, escape: string): T {
  const word = (text: string): string => substituteWord(text, lookup, escape);
  const opt = (text: string | undefined): { value?: string } =>
    text === undefined ? {} : { value: word(text) };
  try {
    const i: Instruction = instruction;
    switch (i.kind) {
      case "FROM": {
        const platform = opt(i.platform).value;
        return { ...i, image: word(i.image), ...(platform === undefined ? {} : { platform }) } as T;
      }
      case "COPY":
      case "ADD": {
        const out = { ...i, sources: i.sources.map(word), dest: word(i.dest) };
        if (i.chown !== undefined) out.chown = word(i.chown);
        if (i.chmod !== undefined) out.chmod = word(i.chmod);
        return out as T;
      }
      case "ENV":
      case "LABEL":
        return { ...i, pairs: i.pairs.map((p) => ({ key: word(p.key), value: word(p.value) })) } as T;
      case "ARG":
        return {
          ...i,
          args: i.args.map((a) => (a.default === undefined ? a : { name: a.name, default: word(a.default) })),
        } as T;
      case "EXPOSE":
        return { ...i, ports: i.ports.flatMap((p) => substituteWords(p, lookup, escape)) } as T;
      case "VOLUME":
        return { ...i, paths: i.paths.map(word) } as T;
      case "WORKDIR":
      case "USER":
      case "STOPSIGNAL":
        return { ...i, value: word(i.value) } as T;
      default:
        return instruction;
    }
  } catch (error) {
    if (error instanceof SubstitutionError) {
      throw new DockerfileError(instruction.line, `${instruction.kind}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
