import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsCheckpoint, SafetensorsFile, TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { architectureAdapters } from '../architectures/index';
import { createTinyModel } from '../testing/index';
import { writeExternalWeights } from './write-external-weights';

describe('writeExternalWeights', () => {
  for (const quantization of [undefined, { bits: 4 as const, blockSize: 32 as const }]) {
    it(`resumes an interrupted conversion and produces the same bytes (${quantization ? 'int4' : 'fp32'})`, async () => {
      const tiny = await createTinyModel({ architecture: 'Qwen2ForCausalLM', seed: 4, dtype: 'BF16' });
      const json = JSON.parse(await readFile(join(tiny.directory, 'config.json'), 'utf8'));
      const adapter = architectureAdapters.Qwen2ForCausalLM;
      const config = adapter.parseConfig(json, 'config.json');
      const names = adapter.tensorNames(config);
      const output = await mkdtemp(join(tmpdir(), 'traitlens-weights-'));
      const checkpoint = await SafetensorsCheckpoint.open(tiny.directory);
      const options = { dtype: 'float32' as const, ...(quantization ? { quantization } : {}) };

      const interrupted = join(output, 'interrupted.data');
      let calls = 0;
      await expect(
        writeExternalWeights({
          checkpoint,
          config,
          names,
          dataPath: interrupted,
          ...options,
          onProgress: () => {
            if (++calls === 6) throw new Error('simulated crash');
          },
        }),
      ).rejects.toThrow('simulated crash');
      expect(existsSync(`${interrupted}.partial`)).toBe(true);
      expect(existsSync(interrupted)).toBe(false);
      const seen: string[] = [];
      const resumed = await writeExternalWeights({
        checkpoint,
        config,
        names,
        dataPath: interrupted,
        ...options,
        onProgress: (event) => seen.push(event.weight),
      });
      // The six weights recorded before the crash are not converted again.
      expect(seen.length).toBe(Object.keys(resumed.weights).length - 6);
      expect(existsSync(`${interrupted}.partial`)).toBe(false);

      const fresh = await writeExternalWeights({
        checkpoint,
        config,
        names,
        dataPath: join(output, 'fresh.data'),
        ...options,
      });
      expect(resumed.weights).toEqual(fresh.weights);
      expect(Buffer.compare(await readFile(interrupted), await readFile(join(output, 'fresh.data')))).toBe(0);
      await checkpoint.close();
      await tiny.remove();
    });
  }

  it('refuses a checkpoint with a NaN or infinite weight, naming the tensor and row', async () => {
    const tiny = await createTinyModel({ seed: 5 });
    const json = JSON.parse(await readFile(join(tiny.directory, 'config.json'), 'utf8'));
    const adapter = architectureAdapters.LlamaForCausalLM;
    const config = adapter.parseConfig(json, 'config.json');
    const names = adapter.tensorNames(config);
    const tensor = names.layer(1).down;
    const weights = join(tiny.directory, 'model.safetensors');
    const file = await SafetensorsFile.open(weights);
    const info = file.info(tensor);
    await file.close();
    const columns = info.shape[1]!;
    for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
      const handle = await open(weights, 'r+');
      // Row 3, column 2 of layers.1.mlp.down_proj.
      await handle.write(
        new Uint8Array(new Float32Array([bad]).buffer),
        0,
        4,
        info.byteOffset + (3 * columns + 2) * 4,
      );
      await handle.close();
      const checkpoint = await SafetensorsCheckpoint.open(tiny.directory);
      const output = await mkdtemp(join(tmpdir(), 'traitlens-weights-'));
      const error = await writeExternalWeights({
        checkpoint,
        config,
        names,
        dataPath: join(output, 'w.data'),
        dtype: 'float32',
      }).catch((caught: unknown) => caught);
      await checkpoint.close();
      expect(TraitlensError.hasCode(error, 'INVALID_SAFETENSORS')).toBe(true);
      expect((error as Error).message).toContain(`tensor "${tensor}" holds ${bad} (row 3, column 2)`);
    }
    await tiny.remove();
  });
});
