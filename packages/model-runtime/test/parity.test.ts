/**
 * Parity with the independent float64 reference (tools/reference/reference_forward.py, fixtures in
 * src/__fixtures__/parity and parity-lora): logits and every hook site at every layer for a padded batch,
 * the same with add and ablate steering, and greedy prefill + KV-cache decode, for every architecture
 * adapter and the switchable LoRA. Tolerance: max abs error < 1e-4 in fp32 (observed: a few 1e-6 on the
 * CPU). Set TRAITLENS_PROVIDERS=webgpu (or cuda) to run the whole matrix on another provider; CI runs a
 * subset on WebGPU in webgpu-parity.test.ts.
 */
import type { ExecutionProviderName } from '../src/index';
import { describeParity, parityFixtureFolders } from './parity-suite';

const providers = (process.env.TRAITLENS_PROVIDERS?.split(',') ?? ['cpu']) as ExecutionProviderName[];
if (providers.includes('webgpu')) {
  const { prepareWebGpu } = await import('./webgpu-environment');
  const webgpu = await prepareWebGpu();
  if (!webgpu.available) throw new Error(`TRAITLENS_PROVIDERS=webgpu but ${webgpu.reason}`);
}

describeParity('parity with the float64 reference', { providers, folders: parityFixtureFolders() });
