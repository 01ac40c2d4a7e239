// The parsed form of each Dockerfile instruction. Values are kept raw (variables and quotes unresolved)
// where Docker substitutes at build time: substitute.ts resolves them with the variables a step sees.
import type { KeyValue } from "./words.js";

/** A command in exec form (a JSON array, run without a shell) or shell form (the text, for the SHELL). */
export type Command = { form: "exec"; args: string[] } | { form: "shell"; text: string };

/** What every instruction keeps: where it is and what it said (history's "created by"). */
export interface InstructionBase {
  /** The 1-based line it starts on. */
  line: number;
  /** The 1-based line it ends on. */
  endLine: number;
  /** Its text with continuations joined, as written (keyword in the case used). */
  original: string;
}

/** FROM [--platform=P] IMAGE [AS name]. */
export interface FromInstruction extends InstructionBase {
  kind: "FROM";
  image: string;
  platform?: string;
  /** The stage name, lower-cased as Docker matches it. */
  name?: string;
}

/** RUN in shell or exec form. */
export interface RunInstruction extends InstructionBase {
  kind: "RUN";
  command: Command;
  /** --network=default|host (the build runs on the host's network either way). */
  network?: "default" | "host";
}

/** CMD or ENTRYPOINT. */
export interface CommandInstruction extends InstructionBase {
  kind: "CMD" | "ENTRYPOINT";
  command: Command;
}

/** SHELL ["executable", "parameters"]. */
export interface ShellInstruction extends InstructionBase {
  kind: "SHELL";
  shell: string[];
}

/** COPY or ADD: the sources and destination are raw words (substituted at build time). */
export interface CopyInstruction extends InstructionBase {
  kind: "COPY" | "ADD";
  sources: string[];
  dest: string;
  /** Whether the JSON form was used (paths with blanks). */
  json: boolean;
  /** COPY --from: a stage name, a stage index or an image (raw). */
  from?: string;
  chown?: string;
  chmod?: string;
  /** --link: the result is the same files; a builder may lay the layer out on its own. */
  link: boolean;
}

/** ENV key=value ... (or the legacy ENV key value). */
export interface EnvInstruction extends InstructionBase {
  kind: "ENV";
  pairs: KeyValue[];
}

/** LABEL key=value ... */
export interface LabelInstruction extends InstructionBase {
  kind: "LABEL";
  pairs: KeyValue[];
}

/** One ARG name with its raw default, if it has one. */
export interface ArgDeclaration {
  name: string;
  default?: string;
}

/** ARG name[=default] ... */
export interface ArgInstruction extends InstructionBase {
  kind: "ARG";
  args: ArgDeclaration[];
}

/** Instructions whose argument is one raw word: WORKDIR, USER, STOPSIGNAL. */
export interface ValueInstruction extends InstructionBase {
  kind: "WORKDIR" | "USER" | "STOPSIGNAL";
  value: string;
}

/** EXPOSE port[/proto] ... (raw words; one variable may expand to several). */
export interface ExposeInstruction extends InstructionBase {
  kind: "EXPOSE";
  ports: string[];
}

/** VOLUME ["/a", "/b"] or VOLUME /a /b. */
export interface VolumeInstruction extends InstructionBase {
  kind: "VOLUME";
  paths: string[];
  json: boolean;
}

/** HEALTHCHECK NONE, or HEALTHCHECK [options] CMD command; durations in nanoseconds as the config has them. */
export interface HealthcheckInstruction extends InstructionBase {
  kind: "HEALTHCHECK";
  /** The config's Test: ["NONE"], ["CMD", ...args] or ["CMD-SHELL", text]. */
  test: string[];
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

/** ONBUILD trigger: the trigger is parsed (so a bad one fails now) and its text kept for the config. */
export interface OnbuildInstruction extends InstructionBase {
  kind: "ONBUILD";
  trigger: Instruction;
  /** The trigger's text as the config's OnBuild list records it. */
  expression: string;
}

/** MAINTAINER name (deprecated): Docker records it as the image's Author. */
export interface MaintainerInstruction extends InstructionBase {
  kind: "MAINTAINER";
  maintainer: string;
}

/** Any parsed instruction. */
export type Instruction =
  | FromInstruction
  | RunInstruction
  | CommandInstruction
  | ShellInstruction
  | CopyInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ValueInstruction
  | ExposeInstruction
  | VolumeInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

/** A parsed Dockerfile: its directives' escape character and its instructions in order. */
export interface Dockerfile {
  escape: "\\" | "`";
  syntax?: string;
  instructions: Instruction[];
}
