import type { ExecutionProviderName } from '@traitlens/model-runtime';
import { loadModel } from '@traitlens/model-runtime';
import {
  type ParityFixtureCase,
  type ParityFixtureFolder,
  type ParityGoldens,
  readParityFixture,
  readParityGoldens,
  runForwardParityCase,
  runGreedyParityCase,
} from '../../../packages/model-runtime/test/parity-cases';
import type { DtypeConfig } from './dtype-configs';

// The fixtures and the two checks are the model-runtime parity suite's (one implementation); this file
// runs them per provider and dtype (and the LoRA folder at three loraScale settings) and reports them.
export { listParityFixtureFolders as listFixtureFolders } from '../../../packages/model-runtime/test/parity-cases';

/** The error of one parity case against the float64 goldens. */
export interface ParityCaseResult {
  config: string;
  /** Fixture folder (`llama`, `qwen3`, ..., `llama+lora`). */
  folder: string;
  /** Case name; LoRA cases end in `@lora1` / `@lora0` / `@lora101` (the loraScale per row). */
  case: string;
  kind: 'forward' | 'greedy';
  /** Max abs error of the logits (forward cases). */
  logitsError?: number;
  /** Max abs error over every captured hook site at every layer (forward cases, unpadded). */
  capturesError?: number;
  /** Max abs error of the greedy tokens' log-probabilities, over the steps whose ids match. */
  logprobError?: number;
  /** Greedy ids equal the float64 ones on every row. */
  greedyIdsEqual?: boolean;
  /** The worst of the errors above. */
  worst?: number;
  tolerance: number;
  pass: boolean;
  milliseconds: number;
  /** A case that threw: its message. */
  error?: string;
}

export interface ParityRunOptions {
  provider: ExecutionProviderName;
  config: DtypeConfig;
  folders: readonly ParityFixtureFolder[];
  cacheDirectory: string;
  threads?: number;
  onCase?: (result: ParityCaseResult) => void;
  onWarning?: (message: string) => void;
}

/**
 * Runs every case of every fixture folder on one provider at one dtype: forward cases capture every
 * hook site at every layer (with the case's add/ablate steering), `padded-batch` also as an HF-style
 * left-padded batch, greedy cases decode through the KV cache with log-probabilities. The LoRA folder
 * runs each case at loraScale 1 (merged goldens), 0 (base goldens) and per row 1, 0, 1, ... (each row's own).
 */
export async function runParityChecks(options: ParityRunOptions): Promise<ParityCaseResult[]> {
  const results: ParityCaseResult[] = [];
  const { config } = options;
  for (const folder of options.folders) {
    const fixture = readParityFixture(folder.directory);
    const model = await loadModel(folder.modelDirectory, {
      cacheDirectory: options.cacheDirectory,
      providers: [options.provider],
      ...config.options,
      // Every hook plan of a folder stays loaded: no plan switch rebuilds a session mid-check.
      maxSessions: 16,
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(folder.adapterDirectory
        ? { lora: { source: folder.adapterDirectory, mode: 'switchable' as const } }
        : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    try {
      const goldensOf = readParityGoldens;
      const variants: Array<{
        suffix: string;
        /** loraScale per row, from the row count. */
        loraScale?: (rows: number) => number[];
        goldens: (testCase: ParityFixtureCase) => Promise<ParityGoldens[]>;
      }> = [];
      const base = folder.baseDirectory;
      if (base) {
        variants.push(
          {
            suffix: '@lora1',
            loraScale: (n) => new Array<number>(n).fill(1),
            goldens: async (c) => perRow(await goldensOf(folder.directory, c), c),
          },
          {
            suffix: '@lora0',
            loraScale: (n) => new Array<number>(n).fill(0),
            goldens: async (c) => perRow(await goldensOf(base, c), c),
          },
          {
            suffix: '@lora101',
            loraScale: (n) => Array.from({ length: n }, (_, r) => (r % 2 === 0 ? 1 : 0)),
            goldens: async (c) => {
              const adapted = await goldensOf(folder.directory, c);
              const clean = await goldensOf(base, c);
              return c.rows.map((_, r) => (r % 2 === 0 ? adapted : clean));
            },
          },
        );
      } else {
        variants.push({ suffix: '', goldens: async (c) => perRow(await goldensOf(folder.directory, c), c) });
      }
      for (const variant of variants) {
        for (const testCase of fixture.cases) {
          const loraScale = variant.loraScale?.(testCase.rows.length);
          const caseRun = (goldensPerRow: ParityGoldens[]) => ({
            model,
            fixture,
            testCase,
            goldensPerRow,
            ...(loraScale ? { loraScale } : {}),
          });
          const runs: Array<[string, (goldens: ParityGoldens[]) => Promise<Partial<ParityCaseResult>>]> =
            testCase.kind === 'forward'
              ? [[testCase.name, (g) => runForwardParityCase(caseRun(g))]]
              : [[testCase.name, (g) => runGreedyParityCase(caseRun(g))]];
          if (testCase.name === 'padded-batch')
            runs.push(['padded-left', (g) => runForwardParityCase({ ...caseRun(g), padded: true })]);
          for (const [name, run] of runs) {
            const started = performance.now();
            const result: ParityCaseResult = {
              config: config.name,
              folder: folder.label,
              case: `${name}${variant.suffix}`,
              kind: testCase.kind,
              tolerance: config.tolerance,
              pass: false,
              milliseconds: 0,
            };
            try {
              Object.assign(result, await run(await variant.goldens(testCase)));
              const errors = [result.logitsError, result.capturesError, result.logprobError].filter(
                (value): value is number => value !== undefined,
              );
              result.worst = Math.max(...errors);
              result.pass =
                result.worst <= config.tolerance && (!config.exactGreedy || result.greedyIdsEqual !== false);
            } catch (cause) {
              result.error = (cause instanceof Error ? cause.message : String(cause))
                .split('\n')[0]!
                .slice(0, 500);
            }
            result.milliseconds = Math.round(performance.now() - started);
            results.push(result);
            options.onCase?.(result);
          }
        }
      }
    } finally {
      await model.dispose();
    }
  }
  return results;
}

/** The golden tensors of a case are keyed per row (`logits.row0`...): every row reads the same map. */
function perRow(goldens: ParityGoldens, testCase: ParityFixtureCase): ParityGoldens[] {
  return testCase.rows.map(() => goldens);
}
