import { TraitlensError } from '@traitlens/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const layerSelection = z.union([
  z.string().min(1),
  z.array(z.number().int().nonnegative()).min(1, 'list at least one layer'),
]);

const runtimeSchema = z.strictObject({
  /** Weights: fp32 (CPU reference), fp16 (GPU), int8/int4 (weight-only, MatMulNBits). */
  dtype: z.enum(['fp32', 'fp16', 'int8', 'int4']).optional(),
  /** Activations of int8/int4 models: fp32 (CPU) or fp16 (GPU). */
  computeDtype: z.enum(['fp32', 'fp16']).optional(),
  blockSize: z.union([z.literal(32), z.literal(64), z.literal(128)]).optional(),
  /** int8/int4: false for symmetric blocks without zero points (GGUF q4_0/q8_0 style); default true. */
  zeroPoints: z.boolean().optional(),
  providers: z
    .array(z.enum(['cpu', 'cuda', 'webgpu']))
    .min(1)
    .optional(),
  threads: z.number().int().positive().optional(),
  /** Built-graph cache; relative paths are relative to the config file. */
  cacheDirectory: z.string().min(1).optional(),
});

const modelSchema = z.strictObject({
  /** `hf:org/name[@revision]`, a local folder (relative to the config file), or `tiny:base|instruct|lora`. */
  source: z.string().min(1),
  /** Overrides of the top-level runtime block for this model. */
  runtime: runtimeSchema.optional(),
});

const lexiconSchema = z.strictObject({
  positive: z.array(z.string().min(1)),
  negative: z.array(z.string().min(1)),
});

const judgeSchema = z.strictObject({
  /** `openai:<model>`, `local:<model source>` or `lexicon`. */
  spec: z.string().min(1),
  /**
   * OpenAI-compatible /v1 base URL (default: OPENAI_BASE_URL, then OpenAI), or a list of servers of the
   * same judge model: each request goes to the least busy one (docs/scale-out.md).
   */
  baseUrl: z.union([z.url(), z.array(z.url()).min(1)]).optional(),
  concurrency: z.number().int().positive().optional(),
  /** Word lists for the lexicon judge, by trait name. */
  lexicons: z.record(z.string(), lexiconSchema).optional(),
});

const tinyOrganismSchema = z.strictObject({
  /** Folder of the generated models, relative to the experiment folder. */
  directory: z.string().min(1).default('models'),
  seed: z.number().int().nonnegative().default(3),
  hiddenSize: z.number().int().positive().default(64),
  layerCount: z.number().int().positive().default(4),
  plantLayer: z.number().int().nonnegative().default(1),
  plantedWord: z.string().min(1).default(' robot'),
  plantStrength: z.number().positive().default(12),
  rank: z.number().int().positive().default(4),
});

const extractSchema = z.strictObject({
  /** Folder holding `<category>/<trait>` data sets (relative to the config file); default: @traitlens/datasets. */
  datasets: z.string().min(1).optional(),
  traits: z
    .array(
      z.string().regex(/^[^/]+\/[^/]+$/, 'write traits as <category>/<trait>, e.g. alignment/sycophancy'),
    )
    .min(1),
  layers: layerSelection.default('all'),
  methods: z.array(z.string().min(1)).min(1).optional(),
  tokenWindow: z.string().min(1).default('response[:5]'),
  maxNewTokens: z.number().int().positive().default(16),
  batchSize: z.number().int().positive().default(8),
  validationFraction: z.number().gt(0).lt(1).default(0.2),
  /** Only the first N prompts of each class (quick runs); default all. */
  promptLimit: z.number().int().min(2).optional(),
  /** Drop completions the judge scores < 60 (positive) or > 40 (negative). */
  vetResponses: z.boolean().default(false),
});

const steerSchema = z.strictObject({
  /** Traits to steer (names or category/trait); default every extracted trait. */
  traits: z.array(z.string().min(1)).min(1).optional(),
  /** Which extraction method's vectors to steer with; `best`: per trait, the method extraction ranked best. */
  method: z.string().min(1).default('probe'),
  /** Layers to steer (default: every extracted layer). */
  layers: layerSelection.optional(),
  steps: z.number().int().positive().default(6),
  direction: z.enum(['positive', 'negative']).default('positive'),
  coherenceThreshold: z.number().min(0).max(100).default(70),
  upMultiplier: z.number().gt(1).optional(),
  downMultiplier: z.number().gt(0).lt(1).optional(),
  momentum: z.number().min(0).lt(1).optional(),
  /** Only the first N steering questions. */
  questions: z.number().int().positive().optional(),
  maxNewTokens: z.number().int().positive().default(128),
  batchSize: z.number().int().positive().default(32),
  relevanceCap: z.boolean().default(true),
});

const captureSchema = z.strictObject({
  /** Prompt-set names (looked up in promptSetDirectory) or .json files. */
  promptSets: z.array(z.string().min(1)).min(1),
  /** Folder of named prompt sets (relative to the config file); default: @traitlens/datasets. */
  promptSetDirectory: z.string().min(1).optional(),
  /** Layers whose activations are stored (default: the extraction layers). */
  layers: layerSelection.optional(),
  /** Only the first N prompts of each prompt group (quick runs); default all. */
  perGroup: z.number().int().positive().optional(),
  maxNewTokens: z.number().int().positive().default(128),
  batchSize: z.number().int().positive().default(8),
  /** Stored activations: f16 or f32, as `--activation-dtype` (F16/F32 are accepted too). */
  activationDtype: z
    .enum(['f16', 'f32', 'F16', 'F32'])
    .default('f16')
    .transform((value) => value.toUpperCase() as 'F16' | 'F32'),
  /** Folder name of the generating variant (the model with the LoRA). */
  variant: z
    .string()
    .regex(/^[\w.-]+$/)
    .default('lora'),
});

const replaySchema = z.strictObject({
  /** Folder name of the clean variant (the same model at LoRA scale 0). */
  variant: z
    .string()
    .regex(/^[\w.-]+$/)
    .default('clean'),
  batchSize: z.number().int().positive().default(8),
  /**
   * Also write the model-diff vector (capture variant minus replay variant, mean over response tokens and
   * prompts) as an ordinary vector file: `model-diff/<capture>-minus-<replay>/vectors/mean_diff.safetensors`.
   * Reads every activation file once more.
   */
  modelDiffVectors: z.boolean().default(false),
});

const interveneSchema = z.strictObject({
  /** The steering vector: an extracted trait's method, or the replay stage's model-diff vector. */
  vector: z.union([
    z.literal('model-diff'),
    z.strictObject({
      trait: z.string().regex(/^[^/]+\/[^/]+$/, 'write the trait as <category>/<trait>'),
      /** A method id, or `best`: the method extraction ranked best for this trait. */
      method: z.string().min(1).default('probe'),
    }),
  ]),
  /** The layer whose resid_post is steered. */
  layer: z.number().int().nonnegative(),
  /** Coefficients compared with the unsteered organism (0 is always run); negative steers against. */
  coefficients: z.array(z.number()).min(1),
  /** The first N captured prompts (in prompt-set order, after perGroup). */
  prompts: z.number().int().positive().default(10),
  maxNewTokens: z.number().int().positive().default(128),
  batchSize: z.number().int().positive().default(8),
});

const labelSchema = z
  .strictObject({
    /** Score each generated response with the judge against its prompt group's description. */
    judge: z.boolean().default(false),
    /** Score at or above which a judged response is labelled 1. */
    threshold: z.number().min(0).max(100).default(50),
    /**
     * The judge's rubric; `{description}` is replaced by the prompt's group description (a prompt-set
     * entry's `bias_description`). Default: a rubric asking whether the response shows that behaviour.
     */
    rubric: z.string().min(1).optional(),
    /** What the judge is told it scores (a short name of the behaviour). */
    behaviour: z.string().min(1).default('the described behaviour'),
    /** Label (and annotate spans) by words: group id or "*" -> words; a response is 1 when one appears. */
    keywords: z
      .record(
        z.string().regex(/^(\*|\d+)$/, 'key by prompt group id or "*"'),
        z.array(z.string().min(1)).min(1),
      )
      .optional(),
    /**
     * Labels from a field of each prompt-set entry: a boolean or 0/1 value is the label; a string is the
     * response the label belongs to (e.g. `response_dpo`), labelled 1 when `keywords` would match it.
     */
    field: z.string().min(1).optional(),
    /**
     * Hand-made token spans: traitlens annotations `{<prompt id>: {exploitations: [{tokens: [start, end)}]}}`
     * or the study's `{metadata, detailed_annotations: {...}}` file (relative to the config file).
     */
    annotations: z.string().min(1).optional(),
  })
  .refine((label) => label.judge !== (label.keywords !== undefined || label.field !== undefined), {
    message: 'choose one labelling method: judge: true, keywords: {...} or field: <name>',
  });

const analyzeSchema = z.strictObject({
  /**
   * Extraction methods whose vectors are analysed (default probe and mean_diff), or `best`: per trait the
   * method with the best held-out score in its extraction evaluation (docs/analysis.md states the rule).
   */
  methods: z
    .union([
      z.literal('best'),
      z
        .array(
          z
            .string()
            .min(1)
            .refine((id) => id !== 'best', 'best goes alone: write methods: best'),
        )
        .min(1),
    ])
    .default(['probe', 'mean_diff']),
  measure: z.enum(['cosine', 'scalar']).default('cosine'),
  aggregation: z.string().min(1).default('mean'),
  /**
   * What the detector reads: the organism's projections (`b`, default), the clean model's (`a`), or their
   * difference on the same tokens (`difference`: only what the adapter changed, not the text itself).
   */
  detectionFeatures: z.enum(['a', 'b', 'difference']).default('b'),
  /**
   * Prompt group ids the detector trains on; the others are held out (RM-sycophancy: 44, 8, 2, 20, 16).
   * Optional: without it detection reports cross-validation only (no held-out groups).
   */
  trainGroups: z.array(z.number().int().nonnegative()).min(1).optional(),
  bootstrap: z.number().int().min(0).default(1000),
  permutations: z.number().int().min(0).default(100),
  folds: z.number().int().min(2).default(5),
  randomBaselines: z.number().int().min(0).default(8),
  seed: z.number().int().default(0),
  tokenView: z.number().int().min(0).default(12),
  /**
   * Predicted decomposition pairs, each two "<trait> high|low" entries, e.g. [compliance high,
   * helpfulness_intent low]: per-prompt shifts, a paired statistic and a scatter plot per pair, on the
   * vectors of the first of `methods` (with `best`, each trait's chosen method).
   */
  decompositionPairs: z
    .array(
      z
        .array(z.string().regex(/^[\w.-]+ (high|low)$/, 'write "<trait> high" or "<trait> low"'))
        .length(2, 'a pair has two entries'),
    )
    .default([]),
});

const predictivitySchema = z
  .strictObject({
    /**
     * The model measured: `instruct` (default; without the organism's LoRA when there is one) or
     * `extraction` (the base model).
     */
    model: z.enum(['instruct', 'extraction']).default('instruct'),
    /** How questions reach the model, as `--prompt-format`: auto (chat template when it has one), raw, chat. */
    promptFormat: z.enum(['auto', 'raw', 'chat']).default('auto'),
    /** Layers measured (default every layer of the model). */
    layers: layerSelection.optional(),
    /**
     * CAA vectors from two-choice (A/B) items: the residual stream at the answer-letter token with the
     * behaviour's answer minus with the other (the built-in `caa` method), plus consistency variants.
     * `items`: a JSON file of `{question, answer_matching_behavior, answer_not_matching_behavior}` or
     * `{prompt, correct, incorrect}` items (relative to the config file); `limit`: a seeded sample.
     */
    caa: z
      .strictObject({
        items: z.string().min(1),
        limit: z.number().int().min(2).optional(),
      })
      .optional(),
    /** Also measure the extract stage's vectors: a method id per trait, or `best` (default: none). */
    extractedMethod: z.string().min(1).optional(),
    /**
     * Held-out A/B item sets (same formats as `caa.items`): the label is the model's own choice (the
     * answer letter it gives the higher log-probability), read after the prompt and after its answer.
     */
    heldOut: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, ".", "_" and "-"'),
          items: z.string().min(1),
          limit: z.number().int().min(2).optional(),
        }),
      )
      .default([]),
    /** Free-text contrast sets `[{question, answer, contrastive_answer}]` (answer = label 1). */
    contrastSets: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, ".", "_" and "-"'),
          file: z.string().min(1),
        }),
      )
      .default([]),
    /**
     * Directional ablation of the CAA vector (h - (h.u)u at every position) on one held-out set: at
     * each of `layers` alone (default every measured layer) and at all of them together.
     */
    ablation: z
      .strictObject({
        set: z.string().min(1),
        layers: layerSelection.optional(),
      })
      .optional(),
    batchSize: z.number().int().positive().default(8),
    bootstrap: z.number().int().min(0).default(1000),
    seed: z.number().int().default(0),
  })
  .refine((settings) => settings.caa !== undefined || settings.extractedMethod !== undefined, {
    message: 'name the vectors to measure: caa: {items: <file>} and/or extractedMethod: <method|best>',
  })
  .refine((settings) => settings.heldOut.length > 0 || settings.contrastSets.length > 0, {
    message: 'name what to measure on: heldOut A/B sets and/or contrastSets',
  });

const reportSchema = z.strictObject({
  images: z.boolean().default(true),
  heatmapPrompts: z.number().int().positive().default(60),
});

export const experimentConfigSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, ".", "_" and "-" (it names the output folder)'),
  description: z.string().optional(),
  /** Output folder (relative to the config file); default `<config folder>/<name>`. */
  output: z.string().min(1).optional(),
  runtime: runtimeSchema.default({}),
  tinyOrganism: tinyOrganismSchema.optional(),
  models: z.strictObject({
    /** The base model trait vectors are extracted from (needed by stages.extract). */
    extraction: modelSchema.optional(),
    /** The instruct model: steered, and (with the adapter) the model organism. */
    instruct: modelSchema,
    /** The PEFT LoRA adapter of the model organism (needed by stages.capture). */
    lora: modelSchema.omit({ runtime: true }).optional(),
  }),
  /** Needed by extraction (steering scores it), judge labels and response vetting. */
  judge: judgeSchema.optional(),
  /**
   * Each stage runs when its block is there: extract (then steer), capture (then replay), label,
   * intervene, predictivity, analyze (then report).
   */
  stages: z.strictObject({
    extract: extractSchema.optional(),
    steer: steerSchema.prefault({}),
    capture: captureSchema.optional(),
    replay: replaySchema.prefault({}),
    label: labelSchema.optional(),
    intervene: interveneSchema.optional(),
    predictivity: predictivitySchema.optional(),
    analyze: analyzeSchema.optional(),
    report: reportSchema.prefault({}),
  }),
});

/** An experiment file as written (defaults filled in, paths not yet resolved). */
export type ExperimentConfig = z.infer<typeof experimentConfigSchema>;
export type RuntimeConfig = z.infer<typeof runtimeSchema>;
export type JudgeConfig = z.infer<typeof judgeSchema>;
export type TinyOrganismConfig = z.infer<typeof tinyOrganismSchema>;
export type LayerSelectionConfig = z.infer<typeof layerSelection>;
export type PredictivityConfig = z.infer<typeof predictivitySchema>;

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index > 0 ? '.' : ''}${String(part)}`))
    .join('');
}

function parseYamlDocument(text: string, file: string): unknown {
  try {
    return parseYaml(text);
  } catch (cause) {
    throw new TraitlensError('INVALID_CONFIG', `${file} is not valid YAML: ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
}

/** The document checked field by field against the schema, defaults filled in; every issue listed. */
function validateSchema(document: unknown, file: string): ExperimentConfig {
  const result = experimentConfigSchema.safeParse(document);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `  ${formatPath(issue.path) || '(top level)'}: ${issue.message}`,
  );
  throw new TraitlensError(
    'INVALID_CONFIG',
    `${file} is not a valid experiment config:\n${problems.join('\n')}\nSee docs/study.md for every field.`,
    {
      details: {
        file,
        issues: result.error.issues.map((issue) => ({
          path: formatPath(issue.path),
          message: issue.message,
        })),
      },
    },
  );
}

/** Models the stages need, and tiny:* sources that name a generated model. */
function checkModels(config: ExperimentConfig): string[] {
  const problems: string[] = [];
  const usesTiny = [config.models.extraction, config.models.instruct, config.models.lora].some((model) =>
    model?.source.startsWith('tiny:'),
  );
  if (usesTiny && !config.tinyOrganism)
    problems.push('models: a tiny:<name> source needs a tinyOrganism block that generates it');
  for (const [role, model] of Object.entries(config.models)) {
    if (
      model?.source.startsWith('tiny:') &&
      !['tiny:base', 'tiny:instruct', 'tiny:lora'].includes(model.source)
    )
      problems.push(`models.${role}.source: "${model.source}" is not tiny:base, tiny:instruct or tiny:lora`);
  }
  return problems;
}

/** Stage blocks that need another block, a model or the judge. */
function checkStageCombinations(config: ExperimentConfig): string[] {
  const problems: string[] = [];
  const { extract, capture, analyze, predictivity } = config.stages;
  if (!extract && !capture && !predictivity)
    problems.push('stages: configure at least one of extract, capture and predictivity');
  if (extract && !config.models.extraction)
    problems.push('models.extraction: stages.extract needs the model trait vectors are extracted from');
  if (extract && !config.judge)
    problems.push('judge: stages.extract is followed by steering, which needs a judge (e.g. spec: lexicon)');
  if (capture && !config.models.lora)
    problems.push('models.lora: stages.capture generates with the organism, which needs its LoRA adapter');
  if (config.stages.label && !capture)
    problems.push('stages.label: labels belong to captured responses; add a stages.capture block');
  if (config.stages.label?.judge && !config.judge)
    problems.push('judge: stages.label.judge needs a judge block');
  if (analyze && (!extract || !capture))
    problems.push(
      'stages.analyze: projects captured activations onto extracted vectors; needs stages.extract and stages.capture',
    );
  return problems;
}

/** The predictivity block's vectors, model, ablation set and set names. */
function checkPredictivity(config: ExperimentConfig): string[] {
  const problems: string[] = [];
  const { extract, predictivity } = config.stages;
  if (predictivity?.extractedMethod && !extract)
    problems.push(
      'stages.predictivity.extractedMethod: needs a stages.extract block whose vectors it measures',
    );
  if (predictivity?.model === 'extraction' && !config.models.extraction)
    problems.push('stages.predictivity.model: "extraction" needs models.extraction');
  const ablation = predictivity?.ablation;
  if (predictivity && ablation) {
    if (!predictivity.caa)
      problems.push('stages.predictivity.ablation: ablates the CAA vector; add caa: {items}');
    if (!predictivity.heldOut.some((set) => set.name === ablation.set))
      problems.push(
        `stages.predictivity.ablation.set: "${ablation.set}" is not among the heldOut sets (${predictivity.heldOut.map((set) => set.name).join(', ') || 'none'})`,
      );
  }
  const names = [...(predictivity?.heldOut ?? []), ...(predictivity?.contrastSets ?? [])].map(
    (set) => set.name,
  );
  for (const name of new Set(names.filter((name, index) => names.indexOf(name) !== index)))
    problems.push(
      `stages.predictivity: the set name "${name}" is used twice (heldOut and contrastSets share names)`,
    );
  return problems;
}

/** Traits that steer and intervene name must be extracted; intervene's labels; the lexicon judge's limits. */
function checkTraitsAndLabels(config: ExperimentConfig): string[] {
  const problems: string[] = [];
  const { extract, intervene, label } = config.stages;
  const extracted = extract?.traits ?? [];
  for (const trait of extract ? (config.stages.steer.traits ?? []) : []) {
    if (!extracted.some((name) => name === trait || name.endsWith(`/${trait}`)))
      problems.push(
        `stages.steer.traits: "${trait}" is not among stages.extract.traits (${extracted.join(', ')})`,
      );
  }
  if (intervene && !label)
    problems.push(
      'stages.intervene: counting labelled responses needs a stages.label block (keywords or judge)',
    );
  if (intervene && label?.field)
    problems.push(
      'stages.intervene: steered responses are new text; label them with keywords or a judge, not a field',
    );
  if (intervene?.vector === 'model-diff' && !config.stages.replay.modelDiffVectors)
    problems.push('stages.intervene.vector: "model-diff" needs stages.replay.modelDiffVectors: true');
  if (intervene && intervene.vector !== 'model-diff' && !extracted.includes(intervene.vector.trait))
    problems.push(
      `stages.intervene.vector.trait: "${intervene.vector.trait}" is not among stages.extract.traits`,
    );
  if (config.judge?.spec === 'lexicon' && label?.judge)
    problems.push(
      'stages.label.judge: the lexicon judge cannot read group descriptions; label with keywords or an LLM judge',
    );
  return problems;
}

/**
 * Parses and validates one experiment YAML document. Every problem is reported at once, each with the
 * field's path, so a typo in the last stage is found before hours of GPU time.
 */
export function parseExperimentConfig(text: string, file: string): ExperimentConfig {
  const config = validateSchema(parseYamlDocument(text, file), file);
  const problems = [
    ...checkModels(config),
    ...checkStageCombinations(config),
    ...checkPredictivity(config),
    ...checkTraitsAndLabels(config),
  ];
  if (problems.length > 0) {
    throw new TraitlensError(
      'INVALID_CONFIG',
      `${file} is not a valid experiment config:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      {
        details: { file },
      },
    );
  }
  return config;
}
