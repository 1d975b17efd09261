import type { ModelConfig } from '../model/model-types';
import type { WeightManifest } from '../weights/weight-manifest';
import type { DecoderGraphOptions } from './build-decoder-graph';
import { type OnnxElementType, OnnxGraphBuilder, OnnxType } from './onnx-graph-builder';

/** The codes, scales and zero points of a quantized weight (initializer names; no zero points when symmetric). */
export interface QuantizedParts {
  codes: string;
  scales: string;
  zeroPoints: string | undefined;
}

/**
 * What every part of the decoder graph builds on: the builder, the model, its weights and the build
 * options, and the conversions and weight look-ups the parts share.
 */
export interface DecoderGraphBase {
  readonly g: OnnxGraphBuilder;
  readonly config: ModelConfig;
  readonly manifest: WeightManifest;
  readonly options: DecoderGraphOptions;
  /**
   * fp16 weights compute in fp16 end to end (GPU); the graph's float inputs and outputs stay float32 so
   * the JS side is the same for every dtype, except the key/value cache, which stays in compute type.
   */
  readonly computeType: OnnxElementType;
  /** A float32 value cast to the compute type (unchanged when that is float32). */
  toCompute(value: string): string;
  /** A compute-type value cast to float32 (unchanged when that is float32). */
  toFloat32(value: string): string;
  /** The initializer of a float weight (declared at each use). */
  weight(name: string): string;
  hasWeight(name: string): boolean;
  /** The parts of a quantized weight, declared once and shared by every user. */
  quantizedParts(name: string): QuantizedParts;
  /** RMSNorm of `value` with the weight `scale`. */
  rmsNorm(value: string, scale: string, hint: string): string;
}

export function createDecoderGraphBase(
  config: ModelConfig,
  manifest: WeightManifest,
  options: DecoderGraphOptions,
): DecoderGraphBase {
  const g = new OnnxGraphBuilder(manifest.dataFile);
  const f32 = OnnxType.float32;
  const weightType = manifest.dtype === 'float16' ? OnnxType.float16 : OnnxType.float32;
  const computeType = weightType;
  const declared = new Set<string>();
  return {
    g,
    config,
    manifest,
    options,
    computeType,
    toCompute: (value) => (computeType === f32 ? value : g.op('Cast', [value], { to: computeType })),
    toFloat32: (value) => (computeType === f32 ? value : g.op('Cast', [value], { to: f32 })),
    weight: (name) => {
      const stored = manifest.weights[name];
      if (!stored) throw new Error(`weight ${name} missing from manifest`);
      return g.externalInitializer(`w.${name}`, weightType, stored.dims, stored);
    },
    hasWeight: (name) => manifest.weights[name] !== undefined,
    quantizedParts: (name) => declareQuantizedParts({ g, manifest, computeType, declared }, name),
    rmsNorm: (value, scale, hint) =>
      g.op(
        'SimplifiedLayerNormalization',
        [value, scale],
        { axis: -1, epsilon: { float: config.rmsNormEps } },
        { hint },
      ),
  };
}

function declareQuantizedParts(
  context: {
    g: OnnxGraphBuilder;
    manifest: WeightManifest;
    computeType: OnnxElementType;
    /** Initializers declared so far. */
    declared: Set<string>;
  },
  name: string,
): QuantizedParts {
  const { g, computeType, declared } = context;
  const stored = context.manifest.weights[name];
  if (!stored?.quantization) throw new Error(`weight ${name} missing from manifest or not quantized`);
  const { bits, blockSize, scales, zeroPoints } = stored.quantization;
  const [n, k] = stored.dims as [number, number];
  const blocks = Math.ceil(k / blockSize);
  const codesName = `w.${name}.codes`;
  if (!declared.has(codesName)) {
    declared.add(codesName);
    g.externalInitializer(codesName, OnnxType.uint8, [n, blocks, (blockSize * bits) / 8], stored);
    g.externalInitializer(`w.${name}.scales`, computeType, [n * blocks], scales);
    if (zeroPoints)
      g.externalInitializer(`w.${name}.zero_points`, OnnxType.uint8, [zeroPoints.length], zeroPoints);
  }
  return {
    codes: codesName,
    scales: `w.${name}.scales`,
    zeroPoints: zeroPoints ? `w.${name}.zero_points` : undefined,
  };
}
