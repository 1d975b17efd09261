import { posix } from 'node:path';
import { TraitlensError } from '@traitlens/core';

/** Which files to fetch: a full model, a PEFT LoRA adapter, or only the config of either. */
export type ModelSourceKind = 'model' | 'adapter';

export interface ModelFileRequest {
  kind: ModelSourceKind;
  /** Only config.json (model) or adapter_config.json (adapter): enough to plan memory before a big download. */
  configOnly: boolean;
}

/** The files of a repo or folder traitlens reads, before shards (which only the index names). */
export interface ModelFileSelection {
  /** Must exist; config first. */
  required: string[];
  /** Fetched when the repo has them. */
  optional: string[];
  /** The sharded-weights index, when the weights are sharded; its shards are added once it is read. */
  weightIndex: string | undefined;
}

export const modelConfigFile = 'config.json';
export const adapterConfigFile = 'adapter_config.json';
const singleWeights = 'model.safetensors';
const weightIndex = 'model.safetensors.index.json';
const adapterWeights = 'adapter_model.safetensors';
/** Tokenizer and generation files a model may have; chat_template.jinja is where newer repos keep the template. */
const optionalModelFiles = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
];

/**
 * Picks the files to fetch from what a repo (or folder) has, with a clear error when the essentials are
 * missing, e.g. a repo with only pickled `.bin` weights, which traitlens does not read.
 */
export function selectModelFiles(
  available: ReadonlySet<string>,
  request: ModelFileRequest,
  where: string,
): ModelFileSelection {
  const configFile = request.kind === 'adapter' ? adapterConfigFile : modelConfigFile;
  if (!available.has(configFile)) {
    const hint =
      request.kind === 'adapter'
        ? available.has(modelConfigFile)
          ? ' It has a config.json: is this a full model rather than a LoRA adapter?'
          : ' A PEFT LoRA adapter has adapter_config.json and adapter_model.safetensors.'
        : available.has(adapterConfigFile)
          ? ' It has adapter_config.json: is this a LoRA adapter? Pass it as the adapter (--lora), with its base model as the model.'
          : ' Is it a Hugging Face transformers model?';
    throw new TraitlensError(
      request.kind === 'adapter' ? 'INVALID_ADAPTER' : 'FILE_NOT_FOUND',
      `${where} has no ${configFile}.${hint}`,
      { details: { source: where, file: configFile } },
    );
  }
  if (request.configOnly) return { required: [configFile], optional: [], weightIndex: undefined };

  if (request.kind === 'adapter') {
    if (!available.has(adapterWeights)) {
      const pickled = available.has('adapter_model.bin')
        ? ' It only has adapter_model.bin (a pickle), which traitlens does not load: convert it with PEFT (`model.save_pretrained(dir, safe_serialization=True)`).'
        : '';
      throw new TraitlensError('INVALID_ADAPTER', `${where} has no ${adapterWeights}.${pickled}`, {
        details: { source: where, file: adapterWeights },
      });
    }
    return { required: [configFile, adapterWeights], optional: [], weightIndex: undefined };
  }

  const optional = optionalModelFiles.filter((file) => available.has(file));
  if (available.has(singleWeights))
    return { required: [configFile, singleWeights], optional, weightIndex: undefined };
  if (available.has(weightIndex)) return { required: [configFile, weightIndex], optional, weightIndex };
  const pickled = [...available].some((file) => /\.(bin|pt|pth|ckpt)$/.test(file))
    ? ' It only has PyTorch pickle weights (.bin/.pt), which traitlens does not load: pick a repo with safetensors weights, or convert with transformers (`save_pretrained(dir, safe_serialization=True)`).'
    : '';
  throw new TraitlensError(
    'FILE_NOT_FOUND',
    `${where} has neither ${singleWeights} nor ${weightIndex}.${pickled}`,
    { details: { source: where } },
  );
}

/** A path from a repo that will be joined onto a cache or model folder: it must stay inside. */
export function assertSafeRelativePath(file: string, where: string): void {
  const normalized = posix.normalize(file);
  if (
    file === '' ||
    file.startsWith('/') ||
    file.includes('\\') ||
    normalized !== file ||
    normalized.split('/').includes('..')
  ) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${where} names the file "${file}", which is not a plain relative path inside the model folder.`,
      { details: { source: where, file } },
    );
  }
}

/** The shard files a `model.safetensors.index.json` lists, relative to the folder that holds the index. */
export function shardFilesFromIndex(indexText: string, indexFile: string, where: string): string[] {
  let index: unknown;
  try {
    index = JSON.parse(indexText);
  } catch (error) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${where}: ${indexFile} is not valid JSON (${(error as Error).message}).`,
      { cause: error, details: { source: where, file: indexFile } },
    );
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${where}: ${indexFile} has no "weight_map" object mapping tensor names to shard files.`,
      { details: { source: where, file: indexFile, field: 'weight_map' } },
    );
  }
  const folder = posix.dirname(indexFile);
  const shards = new Set<string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string') {
      throw new TraitlensError(
        'INVALID_CONFIG',
        `${where}: ${indexFile} maps "${tensor}" to ${JSON.stringify(shard)} instead of a file name.`,
        { details: { source: where, file: indexFile, tensor } },
      );
    }
    const file = folder === '.' ? shard : `${folder}/${shard}`;
    assertSafeRelativePath(file, `${where} (${indexFile})`);
    shards.add(file);
  }
  if (shards.size === 0)
    throw new TraitlensError('INVALID_CONFIG', `${where}: ${indexFile} lists no shards.`, {
      details: { source: where, file: indexFile },
    });
  return [...shards].sort();
}
