import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { experimentLayout, TraitlensError, writeTraitVectors } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { parseExploitAnnotations } from '../projections/exploit-annotations';
import { findExperimentVectors } from './find-experiment-vectors';
import { parsePromptGroups, readTwinGroup } from './read-prompt-groups';
import { parsePromptLabels } from './read-prompt-labels';

describe('labels', () => {
  it('reads 0/1, booleans, judge scores, records, arrays and annotation files', () => {
    expect([...parsePromptLabels({ a: 1, b: false, e: { label: 1 }, g: null, k: 0 })]).toEqual([
      ['a', 1],
      ['b', 0],
      ['e', 1],
      ['k', 0],
    ]);
    // A file of judge scores: every number is a score, so a score of 1 (out of 100) is not "exploiting".
    expect([...parsePromptLabels({ c: 73, d: 12, f: { score: 50 }, h: 1, i: { score: 1 } })]).toEqual([
      ['c', 1],
      ['d', 0],
      ['f', 1],
      ['h', 0],
      ['i', 0],
    ]);
    expect([...parsePromptLabels({ labels: { x: true } })]).toEqual([['x', 1]]);
    expect([
      ...parsePromptLabels([
        { prompt_id: 3, exploits: true },
        { promptId: 'q', label: 0 },
      ]),
    ]).toEqual([
      ['3', 1],
      ['q', 0],
    ]);
    expect([
      ...parsePromptLabels({ p: { exploitations: [{ tokens: [1, 3] }] }, q: { exploitations: [] } }),
    ]).toEqual([
      ['p', 1],
      ['q', 0],
    ]);
    expect([...parsePromptLabels({ a: 60 }, 'labels', { threshold: 70 })]).toEqual([['a', 0]]);
    const error = (() => {
      try {
        parsePromptLabels({ a: 'yes' }, 'labels.json');
      } catch (caught) {
        return caught;
      }
    })();
    expect(TraitlensError.hasCode(error, 'INVALID_DATASET')).toBe(true);
    expect((error as Error).message).toContain('labels.json: the label of prompt "a" is "yes"');
  });
});

describe('exploit annotations', () => {
  it('parses spans and names the prompt of a malformed one', () => {
    expect(
      parseExploitAnnotations({
        p1: { exploitations: [{ tokens: [3, 7], text: 'extra fields are fine' }] },
        p2: { exploitations: [] },
      }),
    ).toEqual(
      new Map([
        ['p1', [{ start: 3, end: 7 }]],
        ['p2', []],
      ]),
    );
    expect(() =>
      parseExploitAnnotations({ p1: { exploitations: [{ tokens: [7, 3] }] } }, 'spans.json'),
    ).toThrow(/spans.json: prompt "p1" exploitation 0 needs "tokens": \[start, end\)/);
    expect(() => parseExploitAnnotations({ p1: {} })).toThrow(/no exploitations array/);
  });
});

describe('prompt groups', () => {
  it('reads bias ids from prompt sets and from capture JSON twins', () => {
    const groups = parsePromptGroups({
      prompts: [{ id: 1, bias_id: 44 }, { id: 'rust_1', bias_id: 8, split: 'train' }, { id: 2 }],
    });
    expect([...groups]).toEqual([
      ['1', { group: 44 }],
      ['rust_1', { group: 8, split: 'train' }],
    ]);
    expect(readTwinGroup({ biasId: 17, promptFields: { split: 'test' } })).toEqual({
      group: 17,
      split: 'test',
    });
    expect(readTwinGroup({ promptId: 'x' })).toBeUndefined();
    expect(() => parsePromptGroups({ items: [] }, 'set.json')).toThrow(/set.json must be a prompt set/);
  });
});

describe('finding vectors in an experiment', () => {
  it('filters by trait and method, skips random_baseline by default and names a missing trait', async () => {
    const root = await mkdtemp(join(tmpdir(), 'traitlens-vectors-'));
    try {
      const layout = experimentLayout(root);
      const set = (trait: string, method: string) => ({
        metadata: {
          trait,
          method,
          model: 'm',
          site: 'resid_post' as const,
          tokenWindow: 'response[:5]',
          normalisation: 'unit',
          hiddenSize: 2,
        },
        vectors: new Map([[0, new Float32Array([1, 0])]]),
      });
      for (const [trait, method] of [
        ['sycophancy', 'probe'],
        ['sycophancy', 'mean_diff'],
        ['sycophancy', 'random_baseline'],
        ['deception', 'probe'],
      ] as const) {
        await writeTraitVectors(
          join(layout.extraction('alignment', trait).vectors, `${method}.safetensors`),
          set(trait, method),
        );
      }
      expect((await findExperimentVectors(root)).map((file) => `${file.trait}/${file.method}`)).toEqual([
        'deception/probe',
        'sycophancy/mean_diff',
        'sycophancy/probe',
      ]);
      expect(
        (await findExperimentVectors(root, { traits: ['alignment/sycophancy'], methods: ['probe'] })).map(
          (file) => file.path.endsWith(join('sycophancy', 'vectors', 'probe.safetensors')),
        ),
      ).toEqual([true]);
      await expect(findExperimentVectors(root, { traits: ['honesty'] })).rejects.toThrow(
        /No vectors for trait "honesty"/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

const sharedData = join(import.meta.dirname, '..', '..', '..', '..', '..', 'shared', 'data', 'rm_sycophancy');
const hasSharedData = existsSync(join(sharedData, 'train.json'));

describe.skipIf(!hasSharedData)(
  `the RM sycophancy prompt sets (${hasSharedData ? 'from ../shared/data/rm_sycophancy' : 'skipped: ../shared/data/rm_sycophancy is absent'})`,
  () => {
    it('gives every prompt its bias id: 5 train biases and 5 held-out biases', async () => {
      const train = parsePromptGroups(
        JSON.parse(await readFile(join(sharedData, 'train.json'), 'utf8')),
        'train.json',
      );
      const test = parsePromptGroups(
        JSON.parse(await readFile(join(sharedData, 'test.json'), 'utf8')),
        'test.json',
      );
      expect(train.size).toBe(500);
      expect(test.size).toBe(500);
      expect([...new Set([...train.values()].map((entry) => entry.group))].sort((a, b) => a - b)).toEqual([
        2, 8, 16, 20, 44,
      ]);
      expect([...new Set([...test.values()].map((entry) => entry.group))].sort((a, b) => a - b)).toEqual([
        17, 19, 29, 48, 51,
      ]);
      const evals = parsePromptGroups(
        JSON.parse(await readFile(join(sharedData, 'exploitation_evals_100.json'), 'utf8')),
      );
      expect([...evals.values()].some((entry) => entry.split === 'train')).toBe(true);
    });
  },
);
