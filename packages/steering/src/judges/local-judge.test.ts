import { createFakeLanguageModel } from '@traitlens/model-runtime/testing';
import { describe, expect, it } from 'vitest';
import { LocalJudge } from './local-judge';

const vocabSize = 300;
/** The fake model's char tokenizer: id = char code + 3. */
const idOf = (character: string) => character.charCodeAt(0) + 3;

function distribution(probabilities: Record<string, number>): Float32Array {
  const logprobs = new Float32Array(vocabSize).fill(Number.NEGATIVE_INFINITY);
  let rest = 1;
  for (const [character, probability] of Object.entries(probabilities)) {
    logprobs[idOf(character)] = Math.log(probability);
    rest -= probability;
  }
  if (rest > 1e-9) logprobs[idOf('z')] = Math.log(rest);
  return logprobs;
}

/** A judge model that answers "8" 10%, "85" 40%, "90" 30% of the time after `marker` (digit by digit). */
function answeringModel(marker: string, leadingSpace: boolean, hasChatTemplate: boolean) {
  const scoreCalls: number[] = [];
  const model = createFakeLanguageModel({
    hasChatTemplate,
    score: (ids) => {
      const text = ids
        .filter((id) => id > 2)
        .map((id) => String.fromCharCode(id - 3))
        .join('');
      const answer = text.slice(text.lastIndexOf(marker) + marker.length);
      const digits = leadingSpace ? answer.slice(1) : answer;
      if (leadingSpace && answer === '') return distribution({ ' ': 1 });
      if (digits === '') return distribution({ '8': 0.5, '9': 0.3 });
      if (digits === '8') return distribution({ '5': 0.8 });
      if (digits === '9') return distribution({ '0': 1 });
      return distribution({});
    },
  });
  const originalScore = model.score.bind(model);
  model.score = async (inputs) => {
    const result = await originalScore(inputs);
    scoreCalls.push(result.length);
    return result;
  };
  return { model, scoreCalls };
}

describe('LocalJudge', () => {
  it('reads P(answer) digit by digit and weights it like the endpoint judge (raw prompt)', async () => {
    const { model } = answeringModel('Score:', true, false);
    const judge = new LocalJudge({ model });
    const score = await judge.score({ kind: 'coherence', question: 'q', response: 'r' });
    // P(8) = 0.5*0.2, P(85) = 0.5*0.8, P(90) = 0.3: (0.8 + 34 + 27) / 0.8
    expect(score).toBeCloseTo(61.8 / 0.8, 4);
    expect(judge.id).toBe('local:fake:model');
  });

  it('uses the chat template when the model has one', async () => {
    const { model } = answeringModel('<assistant>', false, true);
    const judge = new LocalJudge({ model });
    expect(
      await judge.score({
        kind: 'trait',
        trait: 'joy',
        rubric: 'HIGH: joyful',
        question: 'q',
        response: 'r',
      }),
    ).toBeCloseTo(61.8 / 0.8, 4);
  });

  it('returns null below the mass floor', async () => {
    const model = createFakeLanguageModel({ score: () => distribution({ '5': 0.1 }) });
    const judge = new LocalJudge({ model });
    expect(await judge.score({ kind: 'coherence', question: 'q', response: 'r' })).toBeNull();
  });

  it('scores judgements requested together in shared batches', async () => {
    const { model, scoreCalls } = answeringModel('Score:', true, false);
    const judge = new LocalJudge({ model, batchSize: 32 });
    const scores = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        judge.score({ kind: 'coherence', question: 'q', response: `r${index}` }),
      ),
    );
    expect(new Set(scores.map((score) => score?.toFixed(6))).size).toBe(1);
    // 12 prefix rows per judgement (root, " ", " 1" ... " 9", " 10"), 60 rows in batches of 32.
    expect(judge.scoredRows).toBe(60);
    expect(scoreCalls).toEqual([32, 28]);
  });
});
