/** One engine under test: it runs a named case once and reports tokens per second. */
export interface BenchEngine {
  /** Row label: `traitlens`, `llama.cpp`, `PyTorch eager`. */
  name: string;
  /** What it was configured with (threads, dtype, library versions), for the JSON output. */
  configuration: Record<string, unknown>;
  cases: readonly string[];
  run(caseName: string): Promise<number>;
  dispose(): Promise<void>;
}

/** The token ids every engine runs, so all of them compute the same thing. */
export interface BenchInputs {
  /** 8 rows x 128 tokens. */
  prefill: number[][];
  /** 8 rows x 16 tokens; decode cases take the first 1 or 8. */
  decodePrompt: number[][];
  /** 1 row of the longest context; `decode_context_<n>` decodes after its first n tokens. */
  contextPrompt: number[][];
  contextLengths: number[];
}

export function randomIds(rows: number, length: number, vocab: number, seed: number): number[][] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  return Array.from({ length: rows }, () => Array.from({ length }, () => 3 + (next() % (vocab - 3))));
}

/**
 * Two warm-up runs of every case on every engine, then `repeats` rounds; within a round each case is
 * run by every engine in turn before the next case starts, so load from other processes on a shared
 * machine falls on all engines alike.
 */
export async function measureTakingTurns(
  caseNames: readonly string[],
  engines: readonly BenchEngine[],
  repeats: number,
  onProgress?: (message: string) => void,
): Promise<Map<string, Map<string, number[]>>> {
  const results = new Map<string, Map<string, number[]>>();
  for (const engine of engines) results.set(engine.name, new Map());
  for (const caseName of caseNames)
    for (const engine of engines) {
      if (!engine.cases.includes(caseName)) continue;
      onProgress?.(`warm-up ${engine.name} ${caseName}`);
      await engine.run(caseName);
      await engine.run(caseName);
      results.get(engine.name)!.set(caseName, []);
    }
  for (let round = 0; round < repeats; round++) {
    onProgress?.(`round ${round + 1}/${repeats}`);
    for (const caseName of caseNames)
      for (const engine of engines)
        if (engine.cases.includes(caseName))
          results
            .get(engine.name)!
            .get(caseName)!
            .push(await engine.run(caseName));
  }
  return results;
}

/** Decode throughput = generated tokens / time of (prompt + N steps) minus (prompt + 1 step): no prefill. */
export async function decodeTokensPerSecond(
  rows: number,
  steps: number,
  generate: (newTokens: number) => Promise<unknown>,
): Promise<number> {
  const t0 = performance.now();
  await generate(1);
  const t1 = performance.now();
  await generate(steps + 1);
  const t2 = performance.now();
  return (rows * steps) / ((t2 - t1 - (t1 - t0)) / 1000);
}

/**
 * Decode throughput from the median time between consecutive tokens of one generation: the prompt pass
 * is not in it (the first token marks its end), and, unlike the difference of two generations, it is
 * not swamped by the noise of running a long prompt twice. `generate` calls `onToken` once per new token.
 */
export async function stepTokensPerSecond(
  generate: (onToken: () => void) => Promise<unknown>,
): Promise<number> {
  const stamps: number[] = [];
  await generate(() => stamps.push(performance.now()));
  const steps = stamps
    .slice(1)
    .map((stamp, index) => stamp - stamps[index]!)
    .sort((a, b) => a - b);
  if (steps.length === 0) throw new Error('stepTokensPerSecond: fewer than two tokens were generated');
  return 1000 / steps[Math.floor(steps.length / 2)]!;
}
