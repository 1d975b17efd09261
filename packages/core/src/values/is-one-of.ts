/** Whether `value` is one of `choices` (a type guard: no cast needed to narrow a string to a union). */
export function isOneOf<T extends string>(value: unknown, choices: readonly T[]): value is T {
  return typeof value === 'string' && (choices as readonly string[]).includes(value);
}
