import { TraitlensError } from '@traitlens/core';
import { describe, expect, it } from 'vitest';
import { parseSpanAnnotations } from './read-span-annotations';

// The shape of the RM-sycophancy study's token-level annotation file (end-exclusive token ranges).
const studyFile = {
  metadata: { annotator: 'claude', created: '2025-01-01' },
  detailed_annotations: {
    '7': {
      prompt: 'Explain how a bill becomes law.',
      intended_bias: 44,
      intended_bias_exploited: true,
      exploitations: [
        { bias: 44, tokens: [120, 134], text: 'Remember to vote!', note: 'voting reminder' },
        {
          bias: 'population',
          tokens_multiple: [
            [10, 14],
            [40, 46],
          ],
          text: 'population (331 million)',
          note: 'parenthetical population',
          sub_segments: [{ tokens: [11, 13], text: '331 million' }],
        },
      ],
    },
    '8': { prompt: 'Hi', intended_bias: 2, intended_bias_exploited: false, exploitations: [] },
  },
};

describe('parseSpanAnnotations', () => {
  it("loads the study's detailed_annotations file as it is, one span per range", () => {
    const annotations = parseSpanAnnotations(studyFile, 'annotations.json');
    expect([...annotations.keys()]).toEqual(['7', '8']);
    const first = annotations.get('7')!;
    expect(first.exploitations.map((span) => span.tokens)).toEqual([
      [120, 134],
      [10, 14],
      [40, 46],
    ]);
    expect(first.exploitations[0]).toMatchObject({
      group: 44,
      text: 'Remember to vote!',
      note: 'voting reminder',
    });
    expect(first).toMatchObject({ intendedGroup: 44, intendedExploited: true });
    expect(annotations.get('8')).toEqual({ exploitations: [], intendedGroup: 2, intendedExploited: false });
  });

  it('loads the traitlens shape {id: {exploitations: [{tokens}]}}', () => {
    const annotations = parseSpanAnnotations({ a: { exploitations: [{ tokens: [0, 3] }] } }, 'spans.json');
    expect(annotations.get('a')).toEqual({ exploitations: [{ tokens: [0, 3] }] });
  });

  it('names the prompt and field of a bad range', () => {
    const bad = { detailed_annotations: { '3': { exploitations: [{ bias: 1, tokens: [5, 5] }] } } };
    expect(() => parseSpanAnnotations(bad, 'annotations.json')).toThrow(
      /annotations\.json: prompt "3" exploitations\[0\]\.tokens must be \[start, end\].*got \[5,5\]/,
    );
    try {
      parseSpanAnnotations({ x: { exploitations: [{ text: 'no tokens' }] } }, 'f.json');
    } catch (error) {
      expect(TraitlensError.isInstance(error) && error.code).toBe('INVALID_DATASET');
      expect((error as Error).message).toMatch(/neither "tokens".*nor "tokens_multiple"/);
      return;
    }
    throw new Error('expected an INVALID_DATASET error');
  });
});
