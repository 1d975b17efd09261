import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findDtypeConfig } from './dtype-configs';
import { formatReport } from './format-report';
import { parsePlacementLog } from './op-placement';
import { listFixtureFolders, runParityChecks } from './parity-checks';
import { runGpuCheck } from './run-gpu-check';

const fixturesDirectory = join(import.meta.dirname, '../../../packages/model-runtime/src/__fixtures__');
const cacheDirectory = mkdtempSync(join(tmpdir(), 'traitlens-gpu-check-test-'));
afterAll(() => rmSync(cacheDirectory, { recursive: true, force: true }));

describe('runGpuCheck on the CPU provider', () => {
  it('passes the fp32 and int4 parity cases (with switchable LoRA) and reports decode bytes per step', async () => {
    const report = await runGpuCheck({
      providers: ['cpu'],
      fixturesDirectory,
      dtypes: ['fp32', 'int4'],
      folders: ['llama', 'llama+lora'],
      benchmarkDtypes: ['fp32'],
      benchmark: {
        shape: {
          hiddenSize: 64,
          layerCount: 2,
          headCount: 4,
          kvHeadCount: 2,
          intermediateSize: 112,
          vocabSize: 512,
        },
        batch: 2,
        promptTokens: 8,
        steps: 4,
        repeats: 1,
      },
      cacheDirectory,
      threads: 1,
    });
    const [check] = report.checks;
    expect(check!.device).toMatchObject({ provider: 'cpu', available: true });
    // 5 llama cases + 3 loraScale variants of the same 5 on the LoRA fixture, per dtype.
    expect(report.summary).toMatchObject({ cases: 40, failed: 0 });
    const fp32 = check!.parity.filter((result) => result.config === 'fp32');
    expect(Math.max(...fp32.map((result) => result.worst!))).toBeLessThan(1e-4);
    expect(fp32.filter((result) => result.kind === 'greedy').every((result) => result.greedyIdsEqual)).toBe(
      true,
    );
    expect(new Set(check!.parity.map((result) => result.case))).toContain('greedy-steered@lora101');
    const [decode] = check!.decode;
    expect(decode!.error).toBeUndefined();
    expect(decode!.tokensPerSecond!.median).toBeGreaterThan(0);
    // On the CPU the KV cache is fed back from host memory every step: its bytes are counted.
    expect(decode!.hostToDeviceBytesPerStep).toBeGreaterThan(0);
    const markdown = formatReport(report);
    expect(markdown).toContain('**40/40 parity cases passed**');
    expect(markdown).toMatch(/\| fp32 \| 0\.0001 \| 20\/20 \|/);
  });

  it('fails the cases when the outputs do not match the goldens (a model that is not the fixture)', async () => {
    const [llama] = listFixtureFolders(fixturesDirectory, ['llama']);
    const [mistral] = listFixtureFolders(fixturesDirectory, ['mistral']);
    const results = await runParityChecks({
      provider: 'cpu',
      config: findDtypeConfig('fp32')!,
      folders: [{ ...llama!, modelDirectory: mistral!.modelDirectory }],
      cacheDirectory,
      threads: 1,
    });
    expect(results).toHaveLength(5);
    expect(results.every((result) => !result.pass)).toBe(true);
  });
});

describe('parsePlacementLog', () => {
  it("counts each session's nodes per provider, CPU op types and host copies", () => {
    const log = [
      'GPU-CHECK-STEP forward',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 40',
      'GPU-CHECK-STEP generate',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 50',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]   MemcpyFromHost (Memcpy)',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]   MatMulNBits (n_qkv)',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]   Shape (n_Shape)',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]   Gather (n_Gather)',
      '2026-12-07 [V:onnxruntime:, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]   Gather (n_Gather_2)',
      '2026-12-07 [V:onnxruntime:, inference_session.cc:2000 Initialize] Session successfully initialized.',
    ].join('\n');
    expect(parsePlacementLog(log)).toEqual([
      {
        step: 'forward',
        nodes: { WebGpuExecutionProvider: 40 },
        cpuOps: {},
        memcpyFromHost: 0,
        memcpyToHost: 0,
      },
      {
        step: 'generate',
        nodes: { WebGpuExecutionProvider: 50, CPUExecutionProvider: 3 },
        cpuOps: { Shape: 1, Gather: 2 },
        memcpyFromHost: 1,
        memcpyToHost: 0,
      },
    ]);
  });
});
