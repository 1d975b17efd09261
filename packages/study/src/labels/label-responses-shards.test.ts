import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CapturedResponse, parsePromptSet } from '@traitlens/capture';
import {
  capturedResponseFormat,
  capturedResponseFormatVersion,
  inferencePaths,
  writeCapturedResponse,
} from '@traitlens/capture/internal';
import type { Judge, JudgeRequest } from '@traitlens/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelResponses } from './label-responses';

// Judge labelling split over shards: each shard judges its prompts into labels/shards/, the unsharded
// run merges the scores into labels.json without a single judge request, equal to one process.

const promptSet = parsePromptSet(
  {
    name: 'groups',
    prompts: Array.from({ length: 12 }, (_, index) => ({
      id: index + 1,
      text: `Question ${index + 1}?`,
      bias_id: index % 3,
      bias_description: `mentions robots (group ${index % 3})`,
    })),
  },
  { id: 'groups' },
);

/** Scores 90 when the response says "robot", else 10; counts its calls. */
class RobotJudge implements Judge {
  readonly id = 'openai:test-judge';
  calls = 0;
  async score(request: JudgeRequest) {
    this.calls++;
    await new Promise((resolve) => setImmediate(resolve));
    return request.response.includes('robot') ? 90 : 10;
  }
}

async function writeResponses(experiment: string): Promise<void> {
  const paths = inferencePaths(experiment, 'lora', promptSet.id);
  for (const prompt of promptSet.prompts) {
    const text = Number(prompt.id) % 4 === 0 ? ' a robot did it' : ' nobody did it';
    const record: CapturedResponse = {
      format: capturedResponseFormat,
      formatVersion: capturedResponseFormatVersion,
      promptId: prompt.id,
      promptSet: promptSet.id,
      variant: 'lora',
      model: 'test-model',
      promptSetText: prompt.text,
      promptText: prompt.text,
      responseText: text,
      promptTokenIds: [1, 2],
      responseTokenIds: [3, Number(prompt.id)],
      promptTokens: ['Q', '?'],
      responseTokens: [' a', text],
      finishReason: 'length',
      generation: { maxNewTokens: 2, chatTemplate: false, decoding: 'greedy' },
      biasId: prompt.biasId,
      biasDescription: prompt.biasDescription,
    };
    await writeCapturedResponse(paths.responseFile(prompt.id), record);
  }
}

const withoutTimes = (text: string) => text.replace(/"(createdAt|updatedAt)": "[^"]*"/g, '"$1": ""');

describe('labelResponses with shards (judge)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'traitlens-label-shards-'));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('three shards judge disjoint prompts; the unsharded run merges them without judging', async () => {
    const options = (experiment: string, judge: Judge) => ({
      experiment,
      variant: 'lora',
      promptSets: [promptSet],
      source: { kind: 'judge' as const, judge, judgeId: judge.id, threshold: 50 },
    });
    const single = join(root, 'single');
    await writeResponses(single);
    const singleJudge = new RobotJudge();
    const expected = await labelResponses(options(single, singleJudge));
    expect(singleJudge.calls).toBe(12);
    expect(expected).toMatchObject({ labelled: 12, positive: 3 });

    const sharded = join(root, 'sharded');
    await writeResponses(sharded);
    const judges = [0, 1, 2].map(() => new RobotJudge());
    const parts = await Promise.all(
      judges.map((judge, index) =>
        labelResponses({ ...options(sharded, judge), shard: { index, count: 3 } }),
      ),
    );
    expect(judges.map((judge) => judge.calls).reduce((sum, calls) => sum + calls, 0)).toBe(12);
    expect(parts.map((part) => part.labelsFile)).toEqual(
      [0, 1, 2].map((index) => join(sharded, 'labels', 'shards', `${index}-of-3.json`)),
    );
    await expect(readFile(join(sharded, 'labels', 'labels.json'))).rejects.toThrow();

    const merging = new RobotJudge();
    const merged = await labelResponses(options(sharded, merging));
    expect(merging.calls).toBe(0);
    expect(merged).toEqual({ ...expected, labelsFile: join(sharded, 'labels', 'labels.json') });
    expect(withoutTimes(await readFile(join(sharded, 'labels', 'labels.json'), 'utf8'))).toBe(
      withoutTimes(await readFile(join(single, 'labels', 'labels.json'), 'utf8')),
    );
  });
});
