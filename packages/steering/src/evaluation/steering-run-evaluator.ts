import { createHash } from 'node:crypto';
import type { HookSite, Judge, JudgeRequest, SteeringMode, SteeringPositions } from '@traitlens/core';
import { l2Norm } from '@traitlens/core/internal';
import type { LanguageModel, PromptInput } from '@traitlens/model-runtime';
import {
  type RunInterventionRecord,
  type ScoredResponse,
  type SteeringRunRecord,
  steeringResponsesFormat,
  steeringResultsFormatVersion,
} from '../results/steering-results';
import type { SteeringResultsStore } from '../results/steering-results-store';
import { generateSteered } from '../steered-generation/generate-steered';
import type { SteeringConfiguration } from '../steered-generation/steering-configuration';

/**
 * One configuration to evaluate: what the search varies, a vector per layer with its coefficient (none
 * for the baseline). The evaluator turns it into steering specs with the evaluation's site, mode and
 * positions (`steeringOf`), and those reach the runtime unchanged.
 */
export interface SteeringRunRequest {
  kind: 'baseline' | 'layer' | 'multi-layer';
  interventions: { layer: number; vector: Float32Array; vectorLabel: string; coefficient: number }[];
}

export type SteeringProgressEvent =
  | { type: 'phase'; phase: 'baseline' | 'norms' | 'search' | 'grid' | 'multi-layer'; message: string }
  | { type: 'generation'; rowsDone: number; rowsTotal: number }
  | { type: 'judging'; done: number; total: number }
  | { type: 'run'; run: SteeringRunRecord; cached: boolean };

export interface SteeringRunEvaluatorOptions {
  model: LanguageModel;
  judge: Judge;
  store: SteeringResultsStore;
  trait: { name: string; rubric: string };
  questions: readonly string[];
  prompts: readonly PromptInput[];
  site: HookSite;
  mode: SteeringMode;
  positions: SteeringPositions;
  generation: { maxNewTokens: number; temperature: number; seed: number };
  /** Rows per generate call. */
  batchSize: number;
  relevanceCap: { enabled: boolean; threshold: number };
  /** Mean residual norm per layer, for perturbation ratios. */
  residualNorms: ReadonlyMap<number, number>;
  onProgress?: ((event: SteeringProgressEvent) => void) | undefined;
}

/**
 * Evaluates steering configurations: generates every uncached configuration's answers in shared
 * batches, has the judge score trait, coherence and relevance, and stores each run as soon as it is
 * scored. A configuration already in results.json (same key) is returned from there: no generation,
 * no judge call.
 */
export class SteeringRunEvaluator {
  /** Judge calls made by this evaluator (for tests and cost reports). */
  judgeCalls = 0;
  private readonly options: SteeringRunEvaluatorOptions;

  constructor(options: SteeringRunEvaluatorOptions) {
    this.options = options;
  }

  async evaluate(requests: readonly SteeringRunRequest[]): Promise<SteeringRunRecord[]> {
    const { store, onProgress } = this.options;
    const keyed = requests.map((request) => ({ request, key: this.keyOf(request) }));
    // Another process (a shard, or a second run on this trait) may have finished some of them meanwhile.
    await store.refresh();
    const pending = new Map<string, SteeringRunRequest>();
    for (const { request, key } of keyed) {
      const cached = store.findRun(key);
      if (cached) onProgress?.({ type: 'run', run: cached, cached: true });
      else pending.set(key, request);
    }
    if (pending.size > 0) await this.evaluateUncached([...pending]);
    return keyed.map(({ key }) => store.findRun(key)!);
  }

  private async evaluateUncached(entries: [string, SteeringRunRequest][]): Promise<void> {
    const { model, prompts, questions, generation, batchSize, onProgress, store } = this.options;
    const generations = await generateSteered(model, {
      prompts,
      configurations: entries.map(([, request]) => this.steeringOf(request)),
      batchSize,
      generation: {
        maxNewTokens: generation.maxNewTokens,
        temperature: generation.temperature,
        seed: generation.seed,
      },
      onBatch: (progress) => onProgress?.({ type: 'generation', ...progress }),
    });
    const perResponse = this.options.relevanceCap.enabled ? 3 : 2;
    const judgingTotal = entries.length * questions.length * perResponse;
    let judged = 0;
    const countJudgement = () => {
      judged++;
      onProgress?.({ type: 'judging', done: judged, total: judgingTotal });
    };
    await Promise.all(
      entries.map(async ([key, request], index) => {
        const responses = await Promise.all(
          generations[index]!.map((result, questionIndex) =>
            this.scoreResponse(questionIndex, questions[questionIndex]!, result, countJudgement),
          ),
        );
        const run = this.recordOf(key, request, responses);
        await store.saveRun(run, {
          format: steeringResponsesFormat,
          formatVersion: steeringResultsFormatVersion,
          runId: run.id,
          key,
          trait: this.options.trait.name,
          judge: this.options.judge.id,
          interventions: run.interventions,
          mode: run.mode,
          positions: run.positions,
          responses,
        });
        onProgress?.({ type: 'run', run, cached: false });
      }),
    );
  }

  /** The request as runtime steering specs: the one place a run's specs are made. */
  private steeringOf(request: SteeringRunRequest): SteeringConfiguration {
    const { site, mode, positions } = this.options;
    return request.interventions.map(({ layer, vector, coefficient }) => ({
      point: { layer, site },
      mode,
      vector,
      coefficient,
      positions,
    }));
  }

  private async scoreResponse(
    questionIndex: number,
    question: string,
    result: {
      responseText: string;
      responseTokenIds: number[];
      finishReason: ScoredResponse['finishReason'];
    },
    countJudgement: () => void,
  ): Promise<ScoredResponse> {
    const { judge, trait, relevanceCap } = this.options;
    const ask = async (request: JudgeRequest) => {
      this.judgeCalls++;
      const score = await judge.score(request);
      countJudgement();
      return score;
    };
    const base = { question, response: result.responseText };
    const [traitScore, coherence, relevance] = await Promise.all([
      ask({ kind: 'trait', trait: trait.name, rubric: trait.rubric, ...base }),
      ask({ kind: 'coherence', ...base }),
      relevanceCap.enabled ? ask({ kind: 'relevance', ...base }) : Promise.resolve(null),
    ]);
    const offTopic = relevance !== null && relevance < relevanceCap.threshold;
    return {
      questionIndex,
      question,
      response: result.responseText,
      finishReason: result.finishReason,
      responseTokenCount: result.responseTokenIds.length,
      trait: traitScore,
      coherence: offTopic && coherence !== null ? Math.min(coherence, 50) : coherence,
      coherenceUncapped: coherence,
      relevance,
    };
  }

  private recordOf(key: string, request: SteeringRunRequest, responses: ScoredResponse[]): SteeringRunRecord {
    const interventions = this.interventionRecords(request);
    const id = runIdOf(request, {
      interventions,
      mode: this.options.mode,
      positions: this.options.positions,
      key,
    });
    const mean = (values: (number | null)[]) => {
      const present = values.filter((value): value is number => value !== null);
      return present.length === 0 ? null : present.reduce((sum, value) => sum + value, 0) / present.length;
    };
    return {
      id,
      key,
      kind: request.kind,
      interventions,
      mode: this.options.mode,
      positions: this.options.positions,
      traitMean: mean(responses.map((response) => response.trait)),
      coherenceMean: mean(responses.map((response) => response.coherence)),
      relevanceMean: mean(responses.map((response) => response.relevance)),
      n: responses.length,
      traitScored: responses.filter((response) => response.trait !== null).length,
      coherenceScored: responses.filter((response) => response.coherence !== null).length,
      offTopic: responses.filter((response) => response.coherence !== response.coherenceUncapped).length,
      responses: `responses/${id}.json`,
      createdAt: new Date().toISOString(),
    };
  }

  private interventionRecords(request: SteeringRunRequest): RunInterventionRecord[] {
    return request.interventions.map((intervention) => {
      const vectorNorm = l2Norm(intervention.vector);
      const residualNorm = this.options.residualNorms.get(intervention.layer);
      return {
        layer: intervention.layer,
        site: this.options.site,
        coefficient: intervention.coefficient,
        vector: intervention.vectorLabel,
        vectorNorm,
        perturbationRatio: residualNorm
          ? (Math.abs(intervention.coefficient) * vectorNorm) / residualNorm
          : null,
      };
    });
  }

  /**
   * The configuration's identity: layers, vector labels, exact coefficients, mode and positions. The
   * rest of the context (model, vectors, judge, questions, decoding) is fixed per results.json.
   */
  private keyOf(request: SteeringRunRequest): string {
    const identity =
      request.interventions.length === 0
        ? { baseline: true }
        : {
            interventions: request.interventions.map((intervention) => [
              intervention.layer,
              intervention.vectorLabel,
              intervention.coefficient,
            ]),
            site: this.options.site,
            mode: this.options.mode,
            positions: this.options.positions,
          };
    return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
  }
}

/** `[ML]L<layers>_c<coefficients>[_<mode>-<positions>]_<key prefix>`, or `baseline`. */
function runIdOf(
  request: SteeringRunRequest,
  run: {
    interventions: RunInterventionRecord[];
    mode: SteeringMode;
    positions: SteeringPositions;
    /** The configuration key (`keyOf`). */
    key: string;
  },
): string {
  const { interventions, mode, positions, key } = run;
  if (request.kind === 'baseline' || interventions.length === 0) return 'baseline';
  const layers = interventions.map((intervention) => intervention.layer).join('+');
  const coefficients = interventions
    .map((intervention) => formatCoefficient(intervention.coefficient))
    .join('_');
  const suffix = [mode === 'add' ? '' : mode, positions === 'all' ? '' : positions].filter(Boolean).join('-');
  const prefix = request.kind === 'multi-layer' ? 'ML' : '';
  return `${prefix}L${layers}_c${coefficients}${suffix ? `_${suffix}` : ''}_${key.slice(0, 8)}`;
}

function formatCoefficient(value: number): string {
  return `${value < 0 ? '-' : '+'}${Math.abs(value).toPrecision(4)}`;
}
