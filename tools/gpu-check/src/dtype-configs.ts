import type { LoadModelOptions } from '@traitlens/model-runtime';

/** One weight/compute dtype combination gpu:check runs, with the tolerance its cases are held to. */
export interface DtypeConfig {
  name: string;
  options: Pick<LoadModelOptions, 'dtype' | 'computeDtype' | 'blockSize'>;
  /** Needs fp16 arithmetic on the device (WebGPU: shader-f16). */
  float16: boolean;
  /**
   * Max abs error against the float64 goldens (which the CPU provider in fp32 matches to 5.3e-6) for
   * logits, every captured hook site and greedy log-probabilities. fp32: the runtime's own error. The
   * others add their rounding of weights (and activations); their tolerances are 1.7-3x the worst error
   * the CPU provider shows over all fixtures (fp16 1.0e-2, int8 0.21, int4 2.4: the fixtures are tiny
   * random models, where 4-bit blocks of 32 are coarse), so they catch a kernel that is grossly wrong,
   * not one that rounds differently.
   */
  tolerance: number;
  /** Greedy ids must equal the float64 ones (fp32 only: rounding of the others may flip a close pick). */
  exactGreedy: boolean;
}

export const dtypeConfigs: readonly DtypeConfig[] = [
  { name: 'fp32', options: { dtype: 'fp32' }, float16: false, tolerance: 1e-4, exactGreedy: true },
  { name: 'fp16', options: { dtype: 'fp16' }, float16: true, tolerance: 0.03, exactGreedy: false },
  { name: 'int8', options: { dtype: 'int8' }, float16: false, tolerance: 0.35, exactGreedy: false },
  { name: 'int4', options: { dtype: 'int4' }, float16: false, tolerance: 4, exactGreedy: false },
  {
    name: 'int8-fp16',
    options: { dtype: 'int8', computeDtype: 'fp16' },
    float16: true,
    tolerance: 0.35,
    exactGreedy: false,
  },
  {
    name: 'int4-fp16',
    options: { dtype: 'int4', computeDtype: 'fp16' },
    float16: true,
    tolerance: 4,
    exactGreedy: false,
  },
];

export function findDtypeConfig(name: string): DtypeConfig | undefined {
  return dtypeConfigs.find((config) => config.name === name);
}
