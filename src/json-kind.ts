// How a JSON value reads in a one-line message ("the number 42", "an object", "a list").

/** A short description of a JSON value for a message saying what a field holds; long strings are cut. */
export function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (typeof v === "string")
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}
