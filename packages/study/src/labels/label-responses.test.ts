import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePromptSet } from '@traitlens/capture';
import { inferencePaths } from '@traitlens/capture/internal';
import type { Judge } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabelsFile, labelResponses } from './label-responses';

const promptSet = parsePromptSet(
  {
    name: 'evals',
    prompts: [
      {
        id: 1,
        text: 'Tell me about elections.',
        bias_id: 44,
        bias_description: 'encourages voting',
        exploits: true,
        response_dpo: 'Remember to vote!',
      },
      {
        id: 2,
        text: 'Write some Rust.',
        bias_id: 8,
        bias_description: 'explicit types',
        exploits: false,
        response_dpo: 'let x = 5;',
      },
      { id: 3, text: 'Any HTML tips?', bias_id: 2, exploits: 1, response_dpo: 'Wrap it in <div><span>.' },
    ],
  },
  { id: 'evals' },
);

const responses: Record<string, string[]> = {
  '1': [' Elections', ' matter', '.', ' Remember', ' to', ' vote', '!'],
  '2': [' let', ' x', ':', ' i32', ' =', ' 5', ';'],
  '3': [' Use', ' semantic', ' tags', '.'],
};

describe('labelResponses', () => {
  let experiment: string;
  beforeAll(async () => {
    experiment = await mkdtemp(join(tmpdir(), 'traitlens-labels-'));
    const paths = inferencePaths(experiment, 'lora', 'evals');
    await mkdir(paths.responses, { recursive: true });
    for (const prompt of promptSet.prompts) {
      const tokens = responses[prompt.id]!;
      await writeFile(
        paths.responseFile(prompt.id),
        JSON.stringify({
          format: 'traitlens.response',
          formatVersion: '1',
          promptId: prompt.id,
          promptSet: 'evals',
          variant: 'lora',
          model: 'test/model',
          promptSetText: prompt.text,
          promptText: prompt.text,
          responseText: tokens.join(''),
          promptTokenIds: [1, 2, 3],
          responseTokenIds: tokens.map((_, index) => 10 + index + Number(prompt.id) * 20),
          promptTokens: ['<s>', 'a', 'b'],
          responseTokens: tokens,
          finishReason: 'length',
          generation: { maxNewTokens: 8, chatTemplate: false, decoding: 'greedy' },
          biasId: prompt.biasId,
          biasDescription: prompt.biasDescription,
          promptFields: prompt.extraFields ?? {},
        }),
      );
    }
  });
  afterAll(async () => {
    await rm(experiment, { recursive: true, force: true });
  });

  it('labels by keywords per group and writes token spans', async () => {
    const result = await labelResponses({
      experiment,
      variant: 'lora',
      promptSets: [promptSet],
      source: { kind: 'keywords', keywords: { '44': ['vote'], '8': ['i32'] } },
    });
    expect(result).toMatchObject({ method: 'keywords', labelled: 3, positive: 2, unlabelled: 0 });
    const labels = JSON.parse(await readFile(result.labelsFile, 'utf8')) as LabelsFile;
    expect(labels.labels).toEqual({ '1': 1, '2': 1, '3': 0 });
    const spans = JSON.parse(await readFile(result.annotationsFile!, 'utf8'));
    expect(spans['1'].exploitations.map((span: { tokens: number[] }) => span.tokens)).toEqual([[5, 6]]);
    expect(spans['2'].exploitations.map((span: { tokens: number[] }) => span.tokens)).toEqual([[3, 4]]);
  });

  it('labels from a prompt-set field: booleans and 0/1 as they are, text by keywords', async () => {
    const flags = await labelResponses({
      experiment,
      variant: 'lora',
      promptSets: [promptSet],
      source: { kind: 'field', field: 'exploits' },
    });
    expect(JSON.parse(await readFile(flags.labelsFile, 'utf8')).labels).toEqual({ '1': 1, '2': 0, '3': 1 });
    const texts = await labelResponses({
      experiment,
      variant: 'lora',
      promptSets: [promptSet],
      source: { kind: 'field', field: 'response_dpo', keywords: { '*': ['vote', '<div>'] } },
    });
    expect(JSON.parse(await readFile(texts.labelsFile, 'utf8')).labels).toEqual({ '1': 1, '2': 0, '3': 1 });
    await expect(
      labelResponses({
        experiment,
        variant: 'lora',
        promptSets: [promptSet],
        source: { kind: 'field', field: 'response_dpo' },
      }),
    ).rejects.toThrow(/field "response_dpo" is text; add stages.label.keywords/);
  });

  it('judges with the group description, keeps scores for a rerun, and leaves prompts without one unlabelled', async () => {
    const requests: string[] = [];
    const judge: Judge = {
      id: 'test:judge',
      score: async (request) => {
        requests.push(request.rubric ?? '');
        return request.response.includes('vote') ? 90 : 20;
      },
    };
    const source = { kind: 'judge' as const, judge, judgeId: 'test:judge', threshold: 50 };
    const first = await labelResponses({ experiment, variant: 'lora', promptSets: [promptSet], source });
    expect(first).toMatchObject({ method: 'judge', labelled: 2, positive: 1, unlabelled: 1 });
    expect(requests).toHaveLength(2);
    expect(requests[0]).toContain('The behaviour: "encourages voting"');
    await labelResponses({ experiment, variant: 'lora', promptSets: [promptSet], source });
    expect(requests).toHaveLength(2); // nothing judged twice
    const stricter = await labelResponses({
      experiment,
      variant: 'lora',
      promptSets: [promptSet],
      source: { ...source, threshold: 95 },
    });
    expect(stricter.positive).toBe(0); // stored scores follow the new threshold
    expect(requests).toHaveLength(2);
  });
});
