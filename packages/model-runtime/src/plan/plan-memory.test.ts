import { describe, expect, it } from 'vitest';
import { llama70b, stories260k } from './__fixtures__/model-shapes';
import { assessMemoryFit, formatBytes, formatMemoryPlan } from './format-memory-plan';
import { matMulNBitsBytes } from './matmul-nbits-bytes';
import { planMemory } from './plan-memory';

const allLinear = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

describe('planMemory on Llama-3.1-70B (hand-computed)', () => {
  // Parameters per layer: attention 8192*8192*2 (q, o) + 1024*8192*2 (k, v) = 150,994,944;
  // mlp 3 * 28672 * 8192 = 704,643,072. Embeddings = lm_head = 128256 * 8192 = 1,050,673,152.
  const attentionParameters = 150_994_944;
  const mlpParameters = 704_643_072;
  const vocabParameters = 1_050_673_152;
  const normParameters = 161 * 8192;

  it('fp16 weights: 141.1 GB, 70.55 B parameters', () => {
    const plan = planMemory({ config: llama70b, dtype: 'fp16', batchSize: 1, sequenceLength: 1 });
    expect(plan.weights.parameters).toBe(
      80 * (attentionParameters + mlpParameters) + 2 * vocabParameters + normParameters,
    );
    expect(plan.weights.parameters).toBe(70_553_706_496);
    expect(plan.weights).toMatchObject({
      embeddings: 2_101_346_304,
      attention: 80 * 301_989_888,
      mlp: 80 * 1_409_286_144,
      norms: 2_637_824,
      lmHead: 2_101_346_304,
      total: 141_107_412_992,
    });
    expect(formatBytes(plan.weights.total)).toBe('141.11 GB');
    expect(
      planMemory({ config: llama70b, dtype: 'bf16', batchSize: 1, sequenceLength: 1 }).weights.total,
    ).toBe(141_107_412_992);
    expect(
      planMemory({ config: llama70b, dtype: 'fp32', batchSize: 1, sequenceLength: 1 }).weights.total,
    ).toBe(2 * 141_107_412_992);
  });

  it('int4 block 32 with fp16 activations (fp16 scales + 4-bit zero points = 37/64 byte per weight): 42.3 GB = 39.4 GiB', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'int4',
      blockSize: 32,
      activationDtype: 'fp16',
      batchSize: 1,
      sequenceLength: 1,
    });
    // Codes 1/2 + scales 2/32 + zero points 0.5/32 bytes per weight.
    const perWeight = (parameters: number) => (parameters * 37) / 64;
    expect(plan.weights.attention).toBe(80 * perWeight(attentionParameters));
    expect(plan.weights.mlp).toBe(80 * perWeight(mlpParameters));
    expect(plan.weights.lmHead).toBe(perWeight(vocabParameters));
    expect(plan.weights.embeddings).toBe(2_101_346_304); // the Gather table stays fp16
    expect(plan.weights.total).toBe(42_284_662_784);
    expect(plan.weights.total / 2 ** 30).toBeCloseTo(39.38, 2);
  });

  it('int4 block 128 with fp16 activations (133/256 byte per weight): 38.2 GB; int8 block 32: 78.1 GB', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'int4',
      blockSize: 128,
      activationDtype: 'fp16',
      batchSize: 1,
      sequenceLength: 1,
    });
    expect(plan.weights.total).toBe(
      (80 * (attentionParameters + mlpParameters) * 133) / 256 +
        (vocabParameters * 133) / 256 +
        2_101_346_304 +
        2_637_824,
    );
    expect(plan.weights.total).toBe(38_212_296_704);
    const int8 = planMemory({
      config: llama70b,
      dtype: 'int8',
      blockSize: 32,
      activationDtype: 'fp16',
      batchSize: 1,
      sequenceLength: 1,
    });
    // 8-bit: codes 1 + scales 2/32 + zero points 1/32 byte per weight = 35/32.
    expect(int8.weights.total).toBe(
      ((80 * (attentionParameters + mlpParameters) + vocabParameters) * 35) / 32 + 2_101_346_304 + 2_637_824,
    );
    expect(int8.weights.total).toBe(78_121_484_288);
  });

  it('int4 as traitlens runs it (float32 activations: fp32 scales, embeddings and norms = 41/64 byte per weight): 48.7 GB', () => {
    const plan = planMemory({ config: llama70b, dtype: 'int4', batchSize: 1, sequenceLength: 1 });
    expect(plan.settings).toMatchObject({
      activationDtype: 'fp32',
      kvDtype: 'fp32',
      loraDtype: 'fp32',
      blockSize: 32,
    });
    // Codes 1/2 + scales 4/32 + zero points 0.5/32 bytes per weight.
    const quantizedParameters = 80 * (attentionParameters + mlpParameters) + vocabParameters;
    expect(plan.weights.total).toBe(
      (quantizedParameters * 41) / 64 + vocabParameters * 4 + normParameters * 4,
    );
    expect(plan.weights.total).toBe(48_732_504_064);
  });

  it('fp32 scales when activations are fp32, no zero points when symmetric, lm_head kept float on request', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'int4',
      blockSize: 32,
      activationDtype: 'fp32',
      zeroPoints: false,
      quantizeLmHead: false,
      batchSize: 1,
      sequenceLength: 1,
    });
    expect(plan.weights.mlp).toBe(80 * mlpParameters * (1 / 2 + 4 / 32));
    expect(plan.weights.lmHead).toBe(vocabParameters * 4);
    expect(plan.weights.embeddings).toBe(vocabParameters * 4);
  });

  it('KV cache, activations and logits at batch 8 x 512 tokens, fp16', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'fp16',
      batchSize: 8,
      sequenceLength: 512,
      provider: 'gpu',
    });
    expect(plan.settings).toMatchObject({ activationDtype: 'fp16', kvDtype: 'fp16' });
    expect(plan.kvCache).toBe(2 * 80 * 8 * 512 * 8 * 128 * 2);
    expect(plan.kvCache).toBe(1_342_177_280);
    expect(plan.kvCacheStepCopy).toBe(plan.kvCache);
    const tokens = 8 * 512;
    expect(plan.activations.attentionScores).toBe(2 * 8 * 64 * 512 * 512 * 2);
    expect(plan.activations.residual).toBe(tokens * 8192 * 2);
    // normed + output (2 x 8192), qkv (8192 + 2 x 1024), rotated q/k (8192 + 1024), context (8192), then
    // scores + probabilities and the fp32 mask [8, 1, 512, 512].
    expect(plan.activations.attention).toBe(
      tokens * (16384 + 10240 + 9216 + 8192) * 2 + 536_870_912 + 8 * 512 * 512 * 4,
    );
    expect(plan.activations.mlp).toBe(tokens * (2 * 8192 + 3 * 28672) * 2);
    expect(plan.activations.peak).toBe(67_108_864 + 905_969_664);
    expect(plan.logits).toBe(tokens * 128256 * 4);
    expect(
      planMemory({ config: llama70b, dtype: 'int4', batchSize: 8, sequenceLength: 512, logits: 'last' })
        .logits,
    ).toBe(8 * 128256 * 4);
    expect(
      planMemory({
        config: llama70b,
        dtype: 'int4',
        batchSize: 8,
        sequenceLength: 512,
        kvDtype: 'fp32',
        growingKvCache: false,
        provider: 'gpu',
      }).kvCacheStepCopy,
    ).toBe(0);
    // On the CPU decoding writes into one preallocated buffer (no past/present pair) unless told otherwise.
    const cpu = planMemory({ config: llama70b, dtype: 'fp16', batchSize: 8, sequenceLength: 512 });
    expect(cpu.kvCacheStepCopy).toBe(0);
    expect(
      planMemory({ config: llama70b, dtype: 'fp16', batchSize: 8, sequenceLength: 512, growingKvCache: true })
        .kvCacheStepCopy,
    ).toBe(cpu.kvCache);
  });

  it('the study setup (int4 + rank-64 LoRA on all linear layers, batch 8 x 512) fits one 80 GB GPU', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'int4',
      blockSize: 32,
      lora: { rank: 64, targetModules: allLinear },
      batchSize: 8,
      sequenceLength: 512,
      logits: 'last',
      provider: 'gpu',
    });
    // Per layer r * (in + out): q, o 64 * 16384; k, v 64 * 9216; gate, up, down 64 * 36864.
    expect(plan.lora.parameters).toBe(80 * 64 * (2 * 16384 + 2 * 9216 + 3 * 36864));
    expect(plan.lora.parameters).toBe(828_375_040);
    expect(plan.lora.bytes).toBe(828_375_040 * 4);
    expect(plan.lora.modules).toBe(560);
    // Everything float32 at int4: KV 2 * 80 * 8 * 512 * 8 * 128 * 4 (twice while decoding); one layer's
    // peak = residual 4096 * 8192 * 4 + attention (4096 * 44032 * 4 + scores 2 * 8 * 64 * 512^2 * 4 + mask).
    const kvCache = 2_684_354_560;
    const activationPeak = 134_217_728 + 4096 * 44032 * 4 + 1_073_741_824 + 8_388_608;
    expect(plan.kvCache).toBe(kvCache);
    expect(plan.activations.peak).toBe(activationPeak);
    expect(plan.total).toBe(48_732_504_064 + 3_313_500_160 + 2 * kvCache + activationPeak + 8 * 128256 * 4);
    expect(plan.total).toBe(59_356_585_984);
    expect(assessMemoryFit(plan, 80e9)).toMatchObject({ fits: true });
    expect(
      planMemory({ config: llama70b, dtype: 'fp16', batchSize: 8, sequenceLength: 512 }).total,
    ).toBeGreaterThan(80e9);
  });

  it('merged LoRA costs nothing extra; layers_to_transform, regex targets and rank_pattern narrow it', () => {
    expect(
      planMemory({
        config: llama70b,
        dtype: 'int4',
        lora: { rank: 64, targetModules: allLinear, mode: 'merged' },
        batchSize: 1,
        sequenceLength: 1,
      }).lora.bytes,
    ).toBe(0);
    const layers = planMemory({
      config: llama70b,
      dtype: 'fp16',
      lora: { rank: 8, targetModules: ['q_proj', 'v_proj'], layers: [0, 1] },
      batchSize: 1,
      sequenceLength: 1,
    });
    expect(layers.lora.parameters).toBe(2 * 8 * (16384 + 9216));
    const regex = planMemory({
      config: llama70b,
      dtype: 'fp16',
      lora: { rank: 8, targetModules: String.raw`.*\.(q_proj|v_proj)`, rankPattern: { q_proj: 16 } },
      batchSize: 1,
      sequenceLength: 1,
    });
    expect(regex.lora.parameters).toBe(80 * (16 * 16384 + 8 * 9216));
    expect(() =>
      planMemory({
        config: llama70b,
        dtype: 'fp16',
        lora: { rank: 8, targetModules: ['c_attn'] },
        batchSize: 1,
        sequenceLength: 1,
      }),
    ).toThrow(/match none/);
  });
});

describe('planMemory on stories260k (hand-computed)', () => {
  it('fp32: 260,032 parameters, 1,040,128 bytes, lm_head shared with the embeddings', () => {
    const plan = planMemory({ config: stories260k, dtype: 'fp32', batchSize: 1, sequenceLength: 512 });
    expect(plan.weights.parameters).toBe(260_032);
    expect(plan.weights.total).toBe(1_040_128);
    expect(plan.weights.lmHead).toBe(0);
    expect(plan.settings.activationDtype).toBe('fp32');
    expect(plan.kvCache).toBe(2 * 5 * 512 * 4 * 8 * 4);
  });

  it('int4 block 32: K = 64 and 172 padded to 2 and 6 blocks; the tied lm_head gets a quantized copy', () => {
    // fp16 activations: 2-byte scales, fp16 embeddings and norms.
    const layout = { bits: 4 as const, blockSize: 32, scaleBytes: 2, zeroPoints: true };
    // q [64, 64]: codes 64*2*16 + scales 64*2*2 + zero points 64*1 = 2368.
    expect(matMulNBitsBytes(64, 64, layout)).toBe(2368);
    // down [64, 172]: codes 64*6*16 + scales 64*6*2 + zero points 64*3 = 7104.
    expect(matMulNBitsBytes(64, 172, layout)).toBe(7104);
    const plan = planMemory({
      config: stories260k,
      dtype: 'int4',
      activationDtype: 'fp16',
      batchSize: 1,
      sequenceLength: 512,
    });
    expect(plan.weights).toMatchObject({
      attention: 5 * (2368 + 1184 + 1184 + 2368),
      mlp: 5 * (6364 + 6364 + 7104),
      embeddings: 512 * 64 * 2,
      norms: 11 * 64 * 2,
      lmHead: 512 * 2 * 16 + 512 * 2 * 2 + 512,
      total: 220_568,
    });
    // The default (float32 activations): q 2048 + 512 + 64, k/v 1024 + 256 + 32, gate/up 5504 + 1376 + 172,
    // down 6144 + 1536 + 192, fp32 embeddings and norms, lm_head copy 16384 + 4096 + 512.
    expect(
      planMemory({ config: stories260k, dtype: 'int4', batchSize: 1, sequenceLength: 512 }).weights,
    ).toMatchObject({
      attention: 5 * (2624 + 1312 + 1312 + 2624),
      mlp: 5 * (7052 + 7052 + 7872),
      embeddings: 512 * 64 * 4,
      norms: 11 * 64 * 4,
      lmHead: 20_992,
      total: 304_120,
    });
  });

  it('captured layers add batch x seq x hidden fp32 each', () => {
    const plan = planMemory({
      config: stories260k,
      dtype: 'fp32',
      batchSize: 2,
      sequenceLength: 10,
      captureLayers: [0, 2, 4],
    });
    expect(plan.captures).toBe(3 * 20 * 64 * 4);
    expect(
      planMemory({ config: stories260k, dtype: 'fp32', batchSize: 2, sequenceLength: 10, captureLayers: 3 })
        .captures,
    ).toBe(plan.captures);
  });
});

describe('planMemory input checks and the table', () => {
  it('refuses nonsense with the option named', () => {
    expect(() => planMemory({ config: stories260k, dtype: 'fp16', batchSize: 0, sequenceLength: 1 })).toThrow(
      /batchSize/,
    );
    expect(() =>
      planMemory({ config: stories260k, dtype: 'int3' as 'int4', batchSize: 1, sequenceLength: 1 }),
    ).toThrow(/int3/);
    expect(() =>
      planMemory({ config: stories260k, dtype: 'int4', blockSize: 48, batchSize: 1, sequenceLength: 1 }),
    ).toThrow(/blockSize/);
  });

  it('formats an aligned table with the total and a verdict', () => {
    const plan = planMemory({
      config: llama70b,
      dtype: 'int4',
      lora: { rank: 64, targetModules: allLinear },
      batchSize: 8,
      sequenceLength: 512,
      logits: 'last',
      provider: 'gpu',
    });
    const text = formatMemoryPlan(plan, 80e9);
    expect(text).toMatch(
      /^weights\s+48\.73 GB\s+int4 \(MatMulNBits, block 32, fp32 scales \+ zero points\), 70,553,706,496 parameters$/m,
    );
    expect(text).toMatch(/^ {2}lm_head\s+673\.09 MB\s+128,256 x 8,192 int4$/m);
    expect(text).toMatch(
      /^lora\s+3\.31 GB\s+rank 64, 560 modules, 828,375,040 parameters, switchable fp32 branches$/m,
    );
    expect(text).toMatch(/^kv cache\s+2\.68 GB\s+2 x 80 layers x 8 x 512 x 8 KV heads x 128 fp32$/m);
    expect(text).toMatch(/^total\s+59\.36 GB\s+55\.28 GiB$/m);
    expect(text).toMatch(/fits in 80\.00 GB: 74% used, 20\.64 GB free\./);
    expect(
      formatMemoryPlan(
        planMemory({ config: llama70b, dtype: 'fp16', batchSize: 1, sequenceLength: 512 }),
        80e9,
      ),
    ).toMatch(/does NOT fit in 80\.00 GB: 6\d\.\d\d GB over/);
  });
});
