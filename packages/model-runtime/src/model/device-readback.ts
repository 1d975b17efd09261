import type * as Ort from 'onnxruntime-node';
import { OnnxGraphBuilder, OnnxType } from '../graph/onnx-graph-builder';
import { ort } from '../session/load-onnxruntime';

/**
 * Copies a float32 tensor that lives on the WebGPU device into host memory. onnxruntime-node 1.30 has
 * no working download for 'gpu-buffer' tensors (Tensor.getData() aborts the process), but a tensor fed
 * to another WebGPU session on the same device is read there, so a one-node Identity session with a
 * host output does the copy.
 */
export class DeviceReadback {
  private session: Promise<Ort.InferenceSession> | undefined;

  /** The values of a [rows, columns] float32 tensor. */
  async read(tensor: Ort.Tensor): Promise<Float32Array> {
    if (tensor.location === 'cpu') return tensor.data as Float32Array;
    if (tensor.size === 0) return new Float32Array(0);
    this.session ??= (() => {
      const g = new OnnxGraphBuilder('unused.data');
      const x = g.input('x', OnnxType.float32, ['rows', 'columns']);
      g.output(g.op('Identity', [x]), 'y', OnnxType.float32, ['rows', 'columns']);
      return ort.InferenceSession.create(g.toBytes({ '': 21 }), {
        executionProviders: ['webgpu'],
        logSeverityLevel: 3,
      });
    })();
    const session = await this.session;
    const { y } = await session.run({ x: tensor });
    return y!.data as Float32Array;
  }

  async release(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await (await session?.catch(() => undefined))?.release();
  }
}
