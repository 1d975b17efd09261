/**
 * Which extraction method's vectors to analyse: one list for every trait, or per trait (keyed by trait
 * name or `category/trait`) one method, as `readBestMethods` chooses them.
 */
export type MethodSelection = readonly string[] | TraitMethods;

/** Per trait (name or `category/trait`): the one extraction method whose vectors are used. */
export type TraitMethods = Readonly<Record<string, string>>;

export function isMethodList(methods: MethodSelection): methods is readonly string[] {
  return Array.isArray(methods);
}

/**
 * Whether a trait's vectors of `method` are selected. `trait` is a name or `category/trait`; a per-trait
 * entry matches by either spelling.
 */
export function selectsMethod(methods: MethodSelection, trait: string, method: string): boolean {
  if (isMethodList(methods)) return methods.includes(method);
  return methodOfTrait(methods, trait) === method;
}

/** The method chosen for a trait (name or `category/trait`; either spelling of the key matches), if any. */
export function methodOfTrait(methods: TraitMethods, trait: string): string | undefined {
  if (Object.hasOwn(methods, trait)) return methods[trait];
  const slash = trait.lastIndexOf('/');
  if (slash >= 0) {
    const name = trait.slice(slash + 1);
    return Object.hasOwn(methods, name) ? methods[name] : undefined;
  }
  const key = Object.keys(methods).find((entry) => entry.endsWith(`/${trait}`));
  return key === undefined ? undefined : methods[key];
}
