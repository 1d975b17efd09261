import { describe, expect, it } from 'vitest';
import { rotaryInverseFrequencies } from '../graph/build-decoder-graph';
import type { ModelConfig } from './model-types';
import { rotaryTables } from './rotary-tables';

// [position, frequency index, cos, sin] from Python's math.cos/math.sin (C libm, an implementation
// independent of V8's) for theta 500000, head_dim 128 (Llama 3 without scaling):
//   inv = [1 / 500000 ** (2 * i / 128) for i in range(64)]; math.cos(p * inv[i]), math.sin(p * inv[i])
const reference: Array<[number, number, number, number]> = [
  [0, 0, 1.0, 0.0],
  [1, 0, 0.5403023058681398, 0.8414709848078965],
  [1, 1, 0.686146891927544, 0.7274630180965705],
  [1, 63, 0.9999999999969862, 2.4551407911291423e-6],
  [511, 0, -0.4716788741741842, 0.8817704007607503],
  [511, 1, -0.00837980197051582, 0.9999648888430708],
  [511, 63, 0.9999992130184486, 0.0012545766151585984],
  [8191, 0, -0.6463904697642574, -0.7630067893524556],
  [8191, 1, 0.9773940091076065, -0.2114259940512516],
  [8191, 63, 0.9997977995937257, 0.020108702781239583],
  [131071, 0, -0.8179834993879491, -0.5752416837547893],
  [131071, 1, -0.8173161500229783, 0.5761894748358534],
  [131071, 63, 0.9486683697029161, 0.3162725475364742],
];

describe('rotaryTables', () => {
  it('matches float64 libm cos/sin to float32 rounding (< 6e-8) up to position 131071', () => {
    const config = { headDim: 128, ropeTheta: 500000, ropeScaling: undefined } as unknown as ModelConfig;
    const inverse = rotaryInverseFrequencies(config);
    expect(inverse.length).toBe(64);
    const positions = [...new Set(reference.map(([position]) => position))];
    const { cos, sin } = rotaryTables(inverse, positions);
    expect(cos.length).toBe(positions.length * 64);
    for (const [position, index, expectedCos, expectedSin] of reference) {
      const at = positions.indexOf(position) * 64 + index;
      expect(Math.abs(cos[at]! - expectedCos)).toBeLessThan(6e-8);
      expect(Math.abs(sin[at]! - expectedSin)).toBeLessThan(6e-8);
    }
  });
});
