import { TraitlensError } from '@traitlens/core';
import type { ModelConfig } from '../model/model-types';
import type { ArchitectureAdapter } from './architecture-adapter';
import { llamaAdapter } from './llama';
import { mistralAdapter } from './mistral';
import { qwen2Adapter } from './qwen2';
import { qwen3Adapter } from './qwen3';

/** Adapters keyed by HF `architectures[0]`. */
export const architectureAdapters = {
  LlamaForCausalLM: llamaAdapter,
  MistralForCausalLM: mistralAdapter,
  Qwen2ForCausalLM: qwen2Adapter,
  Qwen3ForCausalLM: qwen3Adapter,
} satisfies Record<string, ArchitectureAdapter>;

export type SupportedArchitecture = keyof typeof architectureAdapters;

/** Finds the adapter for a parsed config.json, with a clear error for anything unsupported. */
export function resolveArchitectureAdapter(json: unknown, source: string): ArchitectureAdapter {
  if (typeof json !== 'object' || json === null) {
    throw new TraitlensError('INVALID_CONFIG', `${source}: config.json is not a JSON object.`, {
      details: { file: source },
    });
  }
  const architectures = (json as Record<string, unknown>).architectures;
  const name = Array.isArray(architectures) ? architectures[0] : undefined;
  if (typeof name !== 'string') {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${source}: config.json has no "architectures" list; traitlens needs it to pick an adapter.`,
      { details: { file: source, field: 'architectures' } },
    );
  }
  const adapter = (architectureAdapters as Record<string, ArchitectureAdapter>)[name];
  if (!adapter) {
    throw new TraitlensError(
      'UNSUPPORTED_ARCHITECTURE',
      `${source}: architecture "${name}" is not supported. Supported: ${Object.keys(architectureAdapters).join(', ')}. See docs/adding-an-architecture.md to add one.`,
      { details: { file: source, architecture: name } },
    );
  }
  return adapter;
}

/** Parses a config.json object into a ModelConfig via its architecture adapter. */
export function parseModelConfig(json: unknown, source = 'config.json'): ModelConfig {
  return resolveArchitectureAdapter(json, source).parseConfig(json as Record<string, unknown>, source);
}
