import { describe, expect, it } from 'vitest';
import { type BenchEngine, measureTakingTurns } from './bench-engine';

function recordingEngine(name: string, cases: string[], log: string[]): BenchEngine {
  let calls = 0;
  return {
    name,
    configuration: {},
    cases,
    run: async (caseName) => {
      log.push(`${name}:${caseName}`);
      return ++calls;
    },
    dispose: async () => undefined,
  };
}

describe('measureTakingTurns', () => {
  it('warms every engine up twice per case, then runs each case on every engine in turn, round by round', async () => {
    const log: string[] = [];
    const a = recordingEngine('a', ['x', 'y'], log);
    const b = recordingEngine('b', ['x'], log);
    const results = await measureTakingTurns(['x', 'y'], [a, b], 2);
    expect(log).toEqual(['a:x', 'a:x', 'b:x', 'b:x', 'a:y', 'a:y', 'a:x', 'b:x', 'a:y', 'a:x', 'b:x', 'a:y']);
    expect(results.get('a')!.get('x')).toEqual([5, 7]);
    expect(results.get('b')!.get('x')).toEqual([3, 4]);
    expect(results.get('b')!.has('y')).toBe(false);
  });
});
