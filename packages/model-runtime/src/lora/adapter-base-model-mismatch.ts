/** The Hub-style `org/name` (or bare name) a model source is known by, from its id, cache path or config. */
function modelNames(source: string, directory: string, config: Record<string, unknown>): string[] {
  const names: string[] = [];
  const hub = /^hf:([^@]+)/.exec(source);
  if (hub) names.push(hub[1]!);
  const cached = /models--([^/]+?)--([^/]+)\/snapshots\//.exec(directory.replaceAll('\\', '/'));
  if (cached) names.push(`${cached[1]}/${cached[2]}`);
  if (typeof config._name_or_path === 'string' && config._name_or_path !== '')
    names.push(config._name_or_path);
  // A local copy is often `<name>/hf` or `<name>/model`: every folder on the path counts.
  names.push(
    ...directory
      .replaceAll('\\', '/')
      .split('/')
      .filter((part) => part !== ''),
  );
  return names;
}

/** `Org/Name-Instruct` and `/models/org/name-instruct/` compare equal: the last path part, lowercased. */
function normalizeName(name: string): string {
  const parts = name.replaceAll('\\', '/').replace(/\/+$/, '').split('/');
  return (parts[parts.length - 1] ?? '').toLowerCase();
}

/**
 * A warning when a LoRA adapter's `base_model_name_or_path` names another model than the one it is
 * applied to. Shapes alone do not catch it (Llama-3.1-70B and Llama-3.3-70B have the same shapes), and
 * an adapter on the wrong base computes something nobody trained. Only a warning: a renamed local copy
 * of the right model is fine. Undefined when the names agree or the adapter names no base.
 */
export function describeAdapterBaseModelMismatch(options: {
  adapterDirectory: string;
  adapterBaseModel: string | undefined;
  modelSource: string;
  modelDirectory: string;
  modelConfig: Record<string, unknown>;
}): string | undefined {
  const base = options.adapterBaseModel;
  if (base === undefined || base.trim() === '') return undefined;
  const wanted = normalizeName(base);
  const known = modelNames(options.modelSource, options.modelDirectory, options.modelConfig);
  if (known.some((name) => normalizeName(name) === wanted)) return undefined;
  return `warning: the LoRA adapter ${options.adapterDirectory} was trained on ${base} (adapter_config.json base_model_name_or_path), but it is applied to ${options.modelSource}. The shapes fit, but on another base model the adapter computes something nobody trained; use ${base}, or ignore this if ${options.modelSource} is a copy of it.`;
}
