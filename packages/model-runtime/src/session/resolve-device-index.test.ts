import { createTinyModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { createInferenceSession, resolveDeviceIndex } from './create-inference-session';

describe('resolveDeviceIndex', () => {
  it('takes the option, else TRAITLENS_DEVICE_INDEX, else 0', () => {
    expect(resolveDeviceIndex(3, { TRAITLENS_DEVICE_INDEX: '1' })).toBe(3);
    expect(resolveDeviceIndex(undefined, { TRAITLENS_DEVICE_INDEX: '5' })).toBe(5);
    expect(resolveDeviceIndex(undefined, { TRAITLENS_DEVICE_INDEX: ' ' })).toBe(0);
    expect(resolveDeviceIndex(undefined, {})).toBe(0);
  });

  it('refuses what is not a GPU index, naming the variable or the value', () => {
    expect(() => resolveDeviceIndex(-1, {})).toThrow(/device index -1 is not a GPU index/);
    expect(() => resolveDeviceIndex(undefined, { TRAITLENS_DEVICE_INDEX: 'gpu1' })).toThrow(
      /TRAITLENS_DEVICE_INDEX="gpu1" is not a GPU index/,
    );
  });
});

describe('createInferenceSession with a device index', () => {
  it('refuses an index above 0 on webgpu (ORT picks the adapter) before creating anything', async () => {
    await expect(
      createInferenceSession('/nonexistent/model.onnx', { providers: ['webgpu'], deviceIndex: 1 }),
    ).rejects.toThrow(/picks the WebGPU adapter itself/);
  });

  it('ignores the index on the CPU provider', async () => {
    const tiny = await createTinyModel({ layerCount: 1 });
    try {
      const { loadModel } = await import('../model/load-model');
      const model = await loadModel(tiny.directory, { deviceIndex: 2, threads: 1 });
      const [row] = await model.forward('Once upon a time');
      expect(row!.logits.length).toBeGreaterThan(0);
      await model.dispose();
    } finally {
      await tiny.remove();
    }
  });
});
