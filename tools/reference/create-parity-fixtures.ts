/**
 * Writes the inputs of the model-runtime parity fixtures: one tiny model per architecture variant (made
 * by createTinyModel) and a cases.json describing the batches, captures and steering to run. The
 * expected outputs are then computed by reference_forward.py (see README.md).
 *
 * Run from the repository root:
 *   node --conditions=@traitlens/source --import tsx tools/reference/create-parity-fixtures.ts
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hookSites, layerConvention, writeJsonAtomic } from '../../packages/core/src/index';
import {
  createSeededRandom,
  createTinyModel,
  type TinyModelOptions,
} from '../../packages/model-runtime/src/testing/index';
import { loadTokenizer } from '../../packages/model-runtime/src/tokenizer/load-tokenizer';

const fixtureRoot = join(import.meta.dirname, '../../packages/model-runtime/src/__fixtures__/parity');

interface FixtureSpec {
  name: string;
  description: string;
  model: TinyModelOptions;
}

const fixtures: FixtureSpec[] = [
  {
    name: 'llama',
    description: 'LlamaForCausalLM, F32 weights, GQA 4/2 heads, untied lm_head.',
    model: { architecture: 'LlamaForCausalLM', seed: 11, dtype: 'F32' },
  },
  {
    name: 'mistral',
    description: 'MistralForCausalLM, BF16 weights, GQA 4/2 heads.',
    model: { architecture: 'MistralForCausalLM', seed: 12, dtype: 'BF16' },
  },
  {
    name: 'qwen2',
    description: 'Qwen2ForCausalLM, BF16 weights, q/k/v biases, rms_norm_eps 1e-6.',
    model: { architecture: 'Qwen2ForCausalLM', seed: 13, dtype: 'BF16' },
  },
  {
    name: 'qwen3',
    description: 'Qwen3ForCausalLM, BF16 weights, per-head q/k RMSNorm, head_dim 24 != hidden/heads 16.',
    model: { architecture: 'Qwen3ForCausalLM', seed: 14, dtype: 'BF16' },
  },
  {
    name: 'llama-rope-scaling',
    description:
      'LlamaForCausalLM with llama3 rope_scaling (factor 8, low 1, high 4, original_max_position_embeddings 64; head_dim 16 and rope_theta 10000 put rotary frequencies in all three bands: kept, blended, divided by 8), F16 weights.',
    model: { architecture: 'LlamaForCausalLM', seed: 15, dtype: 'F16', ropeScaling: 'llama3' },
  },
  {
    name: 'llama-tied',
    description:
      'LlamaForCausalLM with tied embeddings (no lm_head.weight), multi-head attention (4 kv heads), BF16 weights.',
    model: {
      architecture: 'LlamaForCausalLM',
      seed: 16,
      dtype: 'BF16',
      tieWordEmbeddings: true,
      kvHeadCount: 4,
    },
  },
];

const layerCount = 2;
const prompts = ['The robot saw the light.', 'Once upon', 'Hi!'];
const greedySteps = 6;

function roundedVector(seed: number, size: number, norm: number): number[] {
  const random = createSeededRandom(seed);
  const values = Array.from({ length: size }, () => random.nextNormal());
  const length = Math.hypot(...values);
  // float32-exact values, so TypeScript and Python read identical vectors from the JSON.
  return values.map((value) => Math.fround((value / length) * norm));
}

for (const [index, fixture] of fixtures.entries()) {
  const directory = join(fixtureRoot, fixture.name);
  await rm(join(directory, 'model'), { recursive: true, force: true });
  const model = await createTinyModel({ ...fixture.model, layerCount, directory: join(directory, 'model') });
  const tokenizer = await loadTokenizer(model.directory);
  const rows = prompts.map((text) => ({ text, tokenIds: tokenizer.encode(text) }));
  const lengths = rows.map((row) => row.tokenIds.length);
  const hiddenSize = model.config.hidden_size as number;
  const vectorSeed = 1000 + index * 10;
  const perToken = (make: (row: number, position: number, length: number) => number) =>
    lengths.map((length, row) => Array.from({ length }, (_, position) => make(row, position, length)));

  const steer = [
    {
      layer: 0,
      site: 'resid_mid',
      mode: 'add',
      vector: roundedVector(vectorSeed + 1, hiddenSize, 3),
      // Row 0 steered everywhere, row 1 only from its middle on, row 2 not at all.
      coefficient: perToken((row, position, length) =>
        row === 0 ? 1.5 : row === 1 && position >= Math.floor(length / 2) ? 2 : 0,
      ),
    },
    {
      layer: 1,
      site: 'attn_out',
      mode: 'ablate',
      vector: roundedVector(vectorSeed + 2, hiddenSize, 1),
      coefficient: perToken((row, position) =>
        row === 0 ? 1 : row === 1 ? 0.5 : position % 2 === 0 ? 1 : 0,
      ),
    },
    {
      layer: 1,
      site: 'resid_post',
      mode: 'ablate',
      vector: roundedVector(vectorSeed + 3, hiddenSize, 2),
      coefficient: perToken((row) => (row === 2 ? 0 : 1)),
    },
  ];
  const cases = {
    format: 'traitlens-parity-v1',
    description: fixture.description,
    model: 'model',
    architecture: model.architecture,
    layerCount,
    hiddenSize,
    vocabSize: model.config.vocab_size,
    layerConvention,
    sites: hookSites,
    padTokenId: model.eosTokenIds[0],
    cases: [
      {
        name: 'padded-batch',
        kind: 'forward',
        description:
          'Rows of different lengths in one batch; logits and every site at every layer at each real token. The same values must come out with left or right padding.',
        paddingSides: ['left', 'right'],
        rows,
        steer: [],
        output: 'padded-batch.safetensors',
      },
      {
        name: 'steered-batch',
        kind: 'forward',
        description:
          'The padded batch with three steering specs in one run: add at resid_mid.0, ablate at attn_out.1 and at resid_post.1; coefficients per row per real token.',
        paddingSides: ['left', 'right'],
        rows,
        steer,
        output: 'steered-batch.safetensors',
      },
      {
        name: 'greedy',
        kind: 'greedy',
        description: `${greedySteps} greedy steps from each row, by full float64 re-forward; logits.row{r}[s] is the distribution that chose generated.row{r}[s].`,
        steps: greedySteps,
        rows,
        steer: [],
        output: 'greedy.safetensors',
      },
      {
        name: 'greedy-steered',
        kind: 'greedy',
        description: `${greedySteps} greedy steps with an add at resid_post.0 whose coefficient is one number per row, applied to every prompt and generated position.`,
        steps: greedySteps,
        rows,
        steer: [
          {
            layer: 0,
            site: 'resid_post',
            mode: 'add',
            vector: roundedVector(vectorSeed + 4, hiddenSize, 1),
            coefficient: [4, 0, -3],
          },
        ],
        output: 'greedy-steered.safetensors',
      },
    ],
  };
  await writeJsonAtomic(join(directory, 'cases.json'), cases);
  console.log(`${fixture.name}: ${model.architecture}, rows of ${lengths.join('/')} tokens`);
}
