import { describe, expect, it } from 'vitest';
import { createProgressDisplay, formatDuration } from './progress-display';

/** A plain (non-TTY) display on a fake stream and clock. */
function plainDisplay(settings: { intervalMs?: number; quietMs?: number } = {}) {
  let time = 0;
  const lines: string[] = [];
  const display = createProgressDisplay({
    stream: { write: (text: string) => lines.push(...text.split('\n').filter(Boolean)), isTTY: false },
    intervalMs: settings.intervalMs ?? 30_000,
    quietMs: settings.quietMs ?? 0,
    now: () => time,
  });
  return {
    display,
    lines,
    advance: (ms: number) => {
      time += ms;
    },
  };
}

describe('progress on a non-TTY stream', () => {
  it('writes a line at every tenth of the way with elapsed time and ETA, and one at the end', () => {
    const { display, lines, advance } = plainDisplay();
    const task = display.task('capture lora', { total: 100, unit: 'prompts' });
    task.update(0);
    for (let done = 1; done <= 100; done++) {
      advance(1000);
      task.update(done);
    }
    task.finish();
    display.stop();
    expect(lines[0]).toBe('capture lora: 0/100 prompts (0%), 0s elapsed');
    expect(lines[1]).toBe('capture lora: 10/100 prompts (10%), 10s elapsed, ETA 1m 30s');
    expect(lines[5]).toBe('capture lora: 50/100 prompts (50%), 50s elapsed, ETA 50s');
    expect(lines.at(-1)).toBe('capture lora: 100/100 prompts (100%), 1m 40s elapsed');
    expect(lines).toHaveLength(11);
  });

  it('writes at least every interval between tenths; the ETA leaves out work done by an earlier run', () => {
    const { display, lines, advance } = plainDisplay({ intervalMs: 30_000 });
    const task = display.task('generate', { total: 1000, done: 500 });
    task.update(500);
    advance(31_000);
    task.update(510);
    advance(5_000);
    task.update(511);
    advance(26_000);
    task.update(520);
    expect(lines).toEqual([
      'generate: 500/1000 (50%), 0s elapsed',
      // 10 prompts in 31 s since this run started: 490 left take about 25 minutes.
      'generate: 510/1000 (51%), 31s elapsed, ETA 25m 19s',
      'generate: 520/1000 (52%), 1m 02s elapsed, ETA 24m 48s',
    ]);
  });

  it('stays quiet for a quick step and says nothing about it', () => {
    const { display, lines, advance } = plainDisplay({ quietMs: 10_000 });
    const task = display.task('converting weights', { total: 32, unit: 'tensors' });
    for (let done = 1; done <= 32; done++) {
      advance(100);
      task.update(done);
    }
    task.finish();
    display.log('loaded');
    expect(lines).toEqual(['loaded']);
  });

  it('formats downloads in MB and durations in s, m, h', () => {
    const { display, lines } = plainDisplay();
    display.task('downloading model.safetensors', { total: 4e9, unit: 'bytes' }).update(1.5e9);
    expect(lines[0]).toBe('downloading model.safetensors: 1500.0/4000.0 MB (37%), 0s elapsed');
    expect([formatDuration(42), formatDuration(185), formatDuration(7380)]).toEqual([
      '42s',
      '3m 05s',
      '2h 03m',
    ]);
  });
});
