// clipanion options from an option table (src/option-table.ts): a command class gets the table's options as
// fields without declaring each again, so that the table stays their one declaration.
import { Option } from "clipanion";
import type { OptionTable, OptionValues } from "../option-table.js";

/** clipanion's option for each entry of `table` (its description replaced where `descriptions` says). */
export function clipanionOptions<T extends OptionTable>(
  table: T,
  descriptions: Partial<Record<keyof T, string>> = {},
): OptionValues<T> {
  const options: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(table)) {
    const names = o.names.join(",");
    const description = descriptions[key] ?? o.description;
    options[key] =
      o.kind === "boolean"
        ? Option.Boolean(names, false, { description })
        : o.kind === "array"
          ? Option.Array(names, [], { description })
          : o.default !== undefined
            ? Option.String(names, o.default, { description })
            : Option.String(names, { description });
  }
  return options as OptionValues<T>;
}

// A mixin's constructor must take `any[]` (TypeScript's rule for mixin classes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AbstractClass<I = object> = abstract new (...args: any[]) => I;

/**
 * `Base` with `table`'s options as fields, declared after Base's own and before the subclass's (clipanion
 * lists and reads them in that order): `class RunCommand extends withOptions(BurrowCommand, RUN_OPTIONS)`.
 */
export function withOptions<B extends AbstractClass, T extends OptionTable>(
  Base: B,
  table: T,
  descriptions: Partial<Record<keyof T, string>> = {},
): B & AbstractClass<OptionValues<T>> {
  abstract class WithOptions extends Base {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      super(...args);
      Object.assign(this, clipanionOptions(table, descriptions));
    }
  }
  return WithOptions as B & AbstractClass<OptionValues<T>>;
}
