import { createRequire } from 'node:module';
import { TraitlensError } from '@traitlens/core';
import type * as OnnxRuntime from 'onnxruntime-node';

export type OnnxRuntimeModule = typeof OnnxRuntime;

let loaded: OnnxRuntimeModule | undefined;

/**
 * Loads onnxruntime-node on first use, so importing a traitlens package never fails because of it; a
 * failure (its native binding missing because its install script could not reach the CDN and aborted,
 * or was never run) becomes an error that says how to install without the CDN. `load` replaces the
 * require, for tests.
 */
export function loadOnnxRuntime(load?: () => unknown): OnnxRuntimeModule {
  if (loaded && !load) return loaded;
  let module: OnnxRuntimeModule;
  try {
    module = (load ?? (() => createRequire(import.meta.url)('onnxruntime-node')))() as OnnxRuntimeModule;
  } catch (cause) {
    const reason = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
    throw new TraitlensError(
      'PROVIDER_UNAVAILABLE',
      `onnxruntime-node could not be loaded (${reason}). Its native binding is missing or broken, usually because its install script could not download from its CDN. Reinstall with the download skipped: ONNXRUNTIME_NODE_INSTALL=skip npm install (or pnpm install / npm rebuild onnxruntime-node with the same variable); the CPU and WebGPU providers ship inside the npm package. See docs/errors/PROVIDER_UNAVAILABLE.md.`,
      { cause, details: { package: 'onnxruntime-node', variable: 'ONNXRUNTIME_NODE_INSTALL=skip' } },
    );
  }
  if (!load) loaded = module;
  return module;
}

/** onnxruntime-node, loaded on the first property read (see loadOnnxRuntime). */
export const ort: OnnxRuntimeModule = new Proxy({} as OnnxRuntimeModule, {
  get: (_, key) => loadOnnxRuntime()[key as keyof OnnxRuntimeModule],
});
