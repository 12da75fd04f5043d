/**
 * Acceptance rules for the property tests, restated from the documented option and protocol
 * rules and written without zod or src/schemas.ts, so that what a schema accepts is checked
 * against an independent statement of what it must accept.
 */

/** A rule: whether a value is acceptable for a field. */
export type Rule = (v: unknown) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const rules = {
  optional: (r: Rule): Rule => (v) => v === undefined || r(v),
  string: (min: number, max: number): Rule => (v) => typeof v === 'string' && v.length >= min && v.length <= max,
  integer: (min: number, max: number): Rule => (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
  oneOf: (...values: readonly unknown[]): Rule => (v) => values.includes(v),
  array: (r: Rule, min: number, max: number): Rule => (v) => Array.isArray(v) && v.length >= min && v.length <= max && v.every((e) => r(e)),
  /** An object with only these fields (inherited enumerable ones count), each acceptable. */
  record: (shape: Record<string, Rule>): Rule => (v) => {
    if (!isObject(v)) return false;
    for (const key in v) if (!Object.hasOwn(shape, key)) return false;
    return Object.entries(shape).every(([k, r]) => r(v[k]));
  },
  /** Any of these rules. */
  either: (...options: Rule[]): Rule => (v) => options.some((r) => r(v)),
  fn: ((v) => typeof v === 'function') as Rule,
  boolean: ((v) => typeof v === 'boolean') as Rule,
  refused: (() => false) as Rule,
};
