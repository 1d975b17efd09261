import { describe, expect, it } from 'vitest';
import { firstLineOf, probeDevice } from './probe-execution-provider';

describe('firstLineOf', () => {
  it("keeps ORT's explanation and drops its source locations", () => {
    expect(
      firstLineOf(
        new Error(
          "Non-zero status code returned while running Mul node. Name:'n_Mul' Status Message: shader_helper.cc:416 GenerateSourceCode Program Mul requires f16 but the device does not support it.\nmore",
        ),
      ),
    ).toBe('Program Mul requires f16 but the device does not support it.');
    expect(
      firstLineOf(
        new Error(
          '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
        ),
      ),
    ).toBe('Failed to get a WebGPU adapter: No supported adapters');
  });
});

describe('probeDevice', () => {
  it('finds the CPU provider available with fp16 arithmetic', async () => {
    const cpu = await probeDevice('cpu');
    expect(cpu).toEqual({ provider: 'cpu', available: true, float16: true, failures: [] });
  });
});
