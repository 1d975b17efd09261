import { join } from 'node:path';
import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { parseExperimentConfig } from './experiment-config';
import { loadExperiment } from './load-experiment';

// The shipped configs of the RM-sycophancy example are the reference documents of this schema.
const experiments = join(
  import.meta.dirname,
  '..',
  '..',
  '..',
  '..',
  'examples',
  'rm-sycophancy',
  'experiments',
);

function expectConfigError(text: string, ...patterns: RegExp[]): void {
  try {
    parseExperimentConfig(text, 'broken.yaml');
  } catch (error) {
    expect(TraitlensError.isInstance(error) && error.code).toBe('INVALID_CONFIG');
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an INVALID_CONFIG error');
}

const minimal = `
name: demo
models:
  extraction: { source: "hf:meta-llama/Llama-3.1-70B" }
  instruct: { source: "hf:meta-llama/Llama-3.3-70B-Instruct" }
  lora: { source: "hf:auditing-agents/llama-3.3-70b-dpo-rt-lora" }
judge: { spec: "openai:gpt-4.1-mini" }
stages:
  extract: { datasets: ../datasets/traits, traits: [alignment/sycophancy] }
  capture: { promptSets: [train_100], promptSetDirectory: ../datasets/inference }
  analyze: { trainGroups: [44] }
`;

describe('experiment configs', () => {
  it('parses both shipped configs and resolves their paths', async () => {
    const big = await loadExperiment(join(experiments, 'rm-sycophancy-70b.yaml'));
    expect(big.config.stages.extract!.traits).toHaveLength(12);
    expect(big.config.stages.extract!.layers).toEqual(Array.from({ length: 16 }, (_, i) => i * 5));
    expect(big.runtime.instruct).toMatchObject({
      dtype: 'int4',
      computeDtype: 'fp16',
      providers: ['cuda', 'cpu'],
    });
    expect(big.sources.lora).toBe('hf:auditing-agents/llama-3.3-70b-dpo-rt-lora');
    expect(big.directory).toBe(join(experiments, 'rm-sycophancy-70b'));
    expect(big.datasetsDirectory).toBe(join(experiments, '..', '..', '..', 'datasets', 'traits'));
    const tiny = await loadExperiment(join(experiments, 'rm-sycophancy-tiny.yaml'), { output: '/tmp/x' });
    expect(tiny.sources).toEqual({
      extraction: join('/tmp/x', 'models', 'base'),
      instruct: join('/tmp/x', 'models', 'instruct'),
      lora: join('/tmp/x', 'models', 'lora'),
    });
    expect(tiny.config.stages.label?.keywords).toEqual({ '*': ['robot'] });
  });

  it('takes one judge base URL or a list of servers, and refuses a non-URL in the list', () => {
    const list = minimal.replace(
      'judge: { spec: "openai:gpt-4.1-mini" }',
      'judge: { spec: "openai:judge", baseUrl: ["http://gpu1:8000/v1", "http://gpu2:8000/v1"] }',
    );
    expect(parseExperimentConfig(list, 'list.yaml').judge!.baseUrl).toEqual([
      'http://gpu1:8000/v1',
      'http://gpu2:8000/v1',
    ]);
    const one = minimal.replace(
      'judge: { spec: "openai:gpt-4.1-mini" }',
      'judge: { spec: "openai:judge", baseUrl: "http://gpu1:8000/v1" }',
    );
    expect(parseExperimentConfig(one, 'one.yaml').judge!.baseUrl).toBe('http://gpu1:8000/v1');
    expectConfigError(
      minimal.replace(
        'judge: { spec: "openai:gpt-4.1-mini" }',
        'judge: { spec: "openai:judge", baseUrl: [gpu1] }',
      ),
      /judge\.baseUrl/,
    );
  });

  it('fills defaults for the stage blocks left out', () => {
    const config = parseExperimentConfig(minimal, 'minimal.yaml');
    expect(config.stages.steer).toMatchObject({ method: 'probe', steps: 6, coherenceThreshold: 70 });
    expect(config.stages.replay.variant).toBe('clean');
    expect(config.stages.capture).toMatchObject({
      maxNewTokens: 128,
      variant: 'lora',
      activationDtype: 'F16',
    });
    expect(config.stages.analyze!.methods).toEqual(['probe', 'mean_diff']);
  });

  it('lists every problem with its field path', () => {
    expectConfigError(
      minimal
        .replace('traits: [alignment/sycophancy]', 'traits: [sycophancy]')
        .replace('name: demo', 'name: demo\nextra: 1'),
      /stages\.extract\.traits\[0\]: write traits as <category>\/<trait>/,
      /\(top level\): Unrecognized key: "extra"/,
    );
    expectConfigError(minimal.replace('judge: { spec: "openai:gpt-4.1-mini" }', ''), /judge: /);
    expectConfigError(
      minimal.replace('trainGroups: [44]', 'trainGroups: []'),
      /stages\.analyze\.trainGroups/,
    );
  });

  it('accepts an analyze block without trainGroups (prompt sets without groups)', () => {
    const config = parseExperimentConfig(
      minimal.replace('analyze: { trainGroups: [44] }', 'analyze: {}'),
      'x.yaml',
    );
    expect(config.stages.analyze!.trainGroups).toBeUndefined();
    expect(config.stages.analyze!.methods).toEqual(['probe', 'mean_diff']);
  });

  it('takes analyze.methods: best (per trait, the method extraction ranked best), alone', () => {
    const config = parseExperimentConfig(
      minimal.replace('analyze: { trainGroups: [44] }', 'analyze: { methods: best }'),
      'x.yaml',
    );
    expect(config.stages.analyze!.methods).toBe('best');
    expectConfigError(
      minimal.replace('analyze: { trainGroups: [44] }', 'analyze: { methods: [best, probe] }'),
      /stages\.analyze\.methods\[0\]: best goes alone: write methods: best/,
    );
  });

  it('checks references between blocks', () => {
    expectConfigError(
      minimal.replace('  capture:', '  steer: { traits: [honesty] }\n  capture:'),
      /stages\.steer\.traits: "honesty" is not among stages\.extract\.traits/,
    );
    expectConfigError(
      minimal.replace('"hf:meta-llama/Llama-3.1-70B"', '"tiny:base"'),
      /tiny:<name> source needs a tinyOrganism block/,
    );
    expectConfigError(
      minimal.replace('  analyze:', '  label: { judge: true, keywords: { "*": [vote] } }\n  analyze:'),
      /choose one labelling method/,
    );
    expectConfigError('name: [unclosed', /not valid YAML/);
  });

  it('takes a study of the predictivity stage alone, and checks what each stage needs', () => {
    const predictivityOnly = `
name: p
models: { instruct: { source: "hf:org/instruct" } }
stages:
  predictivity:
    caa: { items: train.json }
    heldOut: [{ name: test, items: test.json }]
    contrastSets: [{ name: free, file: contrast.json }]
    ablation: { set: test }
`;
    const config = parseExperimentConfig(predictivityOnly, 'p.yaml');
    expect(config.stages.predictivity).toMatchObject({
      model: 'instruct',
      promptFormat: 'auto',
      batchSize: 8,
      bootstrap: 1000,
    });
    expect(config.stages.extract).toBeUndefined();
    expectConfigError(
      predictivityOnly.replace('ablation: { set: test }', 'ablation: { set: free }'),
      /stages\.predictivity\.ablation\.set: "free" is not among the heldOut sets \(test\)/,
    );
    expectConfigError(
      predictivityOnly.replace('caa: { items: train.json }', 'extractedMethod: probe'),
      /stages\.predictivity\.extractedMethod: needs a stages\.extract block/,
      /stages\.predictivity\.ablation: ablates the CAA vector/,
    );
    expectConfigError(
      predictivityOnly.replace(
        '  predictivity:',
        '  capture: { promptSets: [train_100] }\n  analyze: {}\n  predictivity:',
      ),
      /models\.lora: stages\.capture generates with the organism/,
      /stages\.analyze: projects captured activations onto extracted vectors/,
    );
    expectConfigError(
      'name: e\nmodels: { instruct: { source: "hf:a/b" } }\nstages: {}\n',
      /configure at least one of extract, capture and predictivity/,
    );
  });
});
