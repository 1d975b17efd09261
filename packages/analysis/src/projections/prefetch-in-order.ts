/**
 * Yields `load(item)` for each item in order while keeping up to `depth` loads in flight, so reading the
 * next files overlaps with computing on the current one.
 */
export async function* prefetchInOrder<T, R>(
  items: readonly T[],
  load: (item: T) => Promise<R>,
  depth: number,
): AsyncGenerator<{ item: T; value: R }> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < items.length && pending.length < Math.max(1, depth)) {
      const promise = load(items[next++]!);
      // Rejections surface when awaited in order; this keeps a later failure from being reported as unhandled first.
      promise.catch(() => undefined);
      pending.push(promise);
    }
  };
  fill();
  for (let index = 0; index < items.length; index++) {
    const value = await pending.shift()!;
    fill();
    yield { item: items[index]!, value };
  }
}
