import type * as Ort from 'onnxruntime-node';
import { ort } from './load-onnxruntime';

export function int64Tensor(values: BigInt64Array, dims: readonly number[]): Ort.Tensor {
  return new ort.Tensor('int64', values, dims);
}

export function float32Tensor(values: Float32Array, dims: readonly number[]): Ort.Tensor {
  return new ort.Tensor('float32', values, dims);
}

/** The float32 data of an output tensor. */
export function readFloat32(tensor: Ort.Tensor | undefined, name: string): Float32Array {
  if (!tensor) throw new Error(`ORT returned no output "${name}"`);
  return tensor.data as Float32Array;
}

export type { Tensor } from 'onnxruntime-node';
