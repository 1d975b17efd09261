/** Splits a model id as the runtime reports it (`hf:org/name@sha` or a folder) into name and revision. */
export function describeModelSource(id: string): { model: string; revision?: string } {
  if (!id.startsWith('hf:')) return { model: id };
  const body = id.slice(3);
  const at = body.lastIndexOf('@');
  return at < 0 ? { model: body } : { model: body.slice(0, at), revision: body.slice(at + 1) };
}
