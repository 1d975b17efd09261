import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { loadOnnxRuntime, ort } from './load-onnxruntime';

describe('loadOnnxRuntime', () => {
  it('turns a missing native binding into an error that names ONNXRUNTIME_NODE_INSTALL=skip', () => {
    // What require throws when the install script aborted before the binding was in place.
    const missing = () => {
      throw new Error(
        "Cannot find module '../bin/napi-v6/linux/x64/onnxruntime_binding.node'\nRequire stack:\n- binding.js",
      );
    };
    let caught: unknown;
    try {
      loadOnnxRuntime(missing);
    } catch (error) {
      caught = error;
    }
    expect(TraitlensError.isInstance(caught)).toBe(true);
    const error = caught as TraitlensError;
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toContain('ONNXRUNTIME_NODE_INSTALL=skip npm install');
    expect(error.message).toContain("Cannot find module '../bin/napi-v6/linux/x64/onnxruntime_binding.node'");
    expect(error.message).not.toContain('Require stack');
  });

  it('loads the installed package on first use', () => {
    expect(typeof loadOnnxRuntime().InferenceSession.create).toBe('function');
    expect(new ort.Tensor('float32', Float32Array.of(1, 2), [2]).dims).toEqual([2]);
  });
});
