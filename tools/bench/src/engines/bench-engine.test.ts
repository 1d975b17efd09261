import { describe, expect, it, vi } from 'vitest';
import { type BenchEngine, measureTakingTurns, stepTokensPerSecond } from './bench-engine';

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

describe('stepTokensPerSecond', () => {
  it('takes the median gap between consecutive tokens, leaving the prompt pass out', async () => {
    const clock = vi.spyOn(performance, 'now');
    for (const stamp of [1000, 1010, 1030, 1040]) clock.mockReturnValueOnce(stamp);
    const rate = await stepTokensPerSecond(async (onToken) => {
      for (let token = 0; token < 4; token++) onToken();
    });
    clock.mockRestore();
    expect(rate).toBe(100);
    await expect(stepTokensPerSecond(async (onToken) => onToken())).rejects.toThrow(/fewer than two/);
  });
});
