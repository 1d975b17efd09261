import type { DetectionResult } from '../detection/run-detection';
import type { ModelDiffPeak, ModelDiffResult } from '../diff/compute-model-diff';

/** One row of the verdict table: a success criterion of the study, pass/fail, and the numbers behind it. */
export interface SuccessCriterionVerdict {
  id: 'traits-differ' | 'label-correlation' | 'classifier-accuracy' | 'held-out-generalisation';
  criterion: string;
  /** `not-run`: the data for it was not given (no variant B, no labels, no held-out groups). */
  status: 'pass' | 'fail' | 'not-run';
  /** The numbers the status rests on, in words. */
  evidence: string;
}

/** Per trait: its strongest vector (largest |effect size| over methods) and whether any of its vectors is a finding. */
export interface TraitModelDiff {
  trait: string;
  vectorId: string;
  method: string;
  peakLayer: number;
  effectSize: number;
  pHolm: number;
  /** The trait's empirical p against random directions, best layer and best method inside the null. */
  traitRandomNullP: number | null;
  /** traitRandomNullP Holm-adjusted over the traits. */
  traitRandomNullPHolm: number | null;
  finding: boolean;
  reason: string | null;
}

export function summarizeTraits(peaks: readonly ModelDiffPeak[]): TraitModelDiff[] {
  const byTrait = new Map<string, ModelDiffPeak[]>();
  for (const peak of peaks) {
    if (peak.isRandomBaseline) continue;
    const list = byTrait.get(peak.trait);
    if (list) list.push(peak);
    else byTrait.set(peak.trait, [peak]);
  }
  const rows: TraitModelDiff[] = [];
  for (const [trait, list] of byTrait) {
    const findings = list.filter((peak) => peak.finding);
    const pool = findings.length > 0 ? findings : list;
    const best = pool.reduce((x, z) => (Math.abs(z.effectSize) > Math.abs(x.effectSize) ? z : x));
    rows.push({
      trait,
      vectorId: best.vectorId,
      method: best.method,
      peakLayer: best.peakLayer,
      effectSize: best.effectSize,
      pHolm: best.pHolm,
      traitRandomNullP: best.traitRandomNullP,
      traitRandomNullPHolm: best.traitRandomNullPHolm,
      finding: findings.length > 0,
      reason: findings.length > 0 ? null : best.reason,
    });
  }
  return rows.sort(
    (x, z) => Number(z.finding) - Number(x.finding) || Math.abs(z.effectSize) - Math.abs(x.effectSize),
  );
}

function formatP(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return 'n/a';
  return p < 0.001 ? p.toExponential(1) : p.toPrecision(2);
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** The criteria in verdict order: id and what each asks. */
const criteria = [
  ['traits-differ', 'At least 2 traits differ significantly between the variants'],
  ['label-correlation', 'Trait projections correlate with the label, |r| > 0.5'],
  ['classifier-accuracy', 'A trait-based classifier reaches more than 70% accuracy'],
  ['held-out-generalisation', 'The classifier generalises to held-out groups (biases)'],
] as const;

/**
 * The study's success criteria (minimum: 2+ traits differ significantly and correlate with the label,
 * r > 0.5; strong: a trait-based classifier above 70% accuracy; paper-worthy: it generalises to held-out
 * biases), each judged on the corrected statistics: a trait "differs" only when it is a finding (Holm and
 * the random-direction null), a correlation counts only when Holm-adjusted p < alpha, accuracy is the
 * nested grouped CV accuracy beyond the permutation null and the majority rate, generalisation needs the
 * held-out AUROC's interval above 0.5.
 */
export function evaluateSuccessCriteria(options: {
  modelDiff: ModelDiffResult | undefined;
  detection: DetectionResult | undefined;
  alpha: number;
}): SuccessCriterionVerdict[] {
  const { modelDiff, detection, alpha } = options;
  const differ = traitsDifferCriterion(modelDiff, alpha);
  if (!detection)
    return [
      differ,
      ...criteria.slice(1).map(([id, criterion]) => ({
        id,
        criterion,
        status: 'not-run' as const,
        evidence: 'no labels: no detection',
      })),
    ];
  return [
    differ,
    labelCorrelationCriterion(detection, alpha),
    classifierAccuracyCriterion(detection, alpha),
    generalisationCriterion(detection),
  ];
}

/** 2+ traits are findings of the model diff (Holm and the random-direction null). */
function traitsDifferCriterion(
  modelDiff: ModelDiffResult | undefined,
  alpha: number,
): SuccessCriterionVerdict {
  const [id, criterion] = criteria[0];
  if (!modelDiff) return { id, criterion, status: 'not-run', evidence: 'no variant B: no model diff' };
  const traits = summarizeTraits(modelDiff.peaks);
  const significant = traits.filter((trait) => trait.finding);
  const statistic = modelDiff.randomNull?.statistic === 'cohensD' ? 'd' : 'paired d';
  const listed = significant
    .map(
      (trait) =>
        `${trait.vectorId} (${statistic} ${fixed(trait.effectSize)} at layer ${trait.peakLayer}, Holm p ${formatP(trait.pHolm)}, null p ${formatP(trait.traitRandomNullPHolm)} Holm over traits)`,
    )
    .join(', ');
  return {
    id,
    criterion,
    status: significant.length >= 2 ? 'pass' : 'fail',
    evidence: `${significant.length} of ${traits.length} traits survive Holm (alpha ${alpha}, ${modelDiff.familySize} tests) and beat the random null${significant.length > 0 ? `: ${listed}` : ''}`,
  };
}

/** Some trait vector's point-biserial |r| with the label exceeds 0.5 at Holm p < alpha. */
function labelCorrelationCriterion(detection: DetectionResult, alpha: number): SuccessCriterionVerdict {
  const [id, criterion] = criteria[1];
  const correlations = detection.univariate.filter((row) => !row.isRandomBaseline && Number.isFinite(row.r));
  const strongest = correlations.reduce<(typeof correlations)[number] | undefined>(
    (x, z) => (!x || Math.abs(z.r) > Math.abs(x.r) ? z : x),
    undefined,
  );
  const passing = correlations.filter((row) => Math.abs(row.r) > 0.5 && row.pHolm < alpha);
  const passingTraits = new Set(passing.map((row) => row.vectorId.split('/')[0]));
  return {
    id,
    criterion,
    status: passing.length > 0 ? 'pass' : 'fail',
    evidence: strongest
      ? `strongest ${strongest.vectorId} at layer ${strongest.layer}: r ${fixed(strongest.r)} (Holm p ${formatP(strongest.pHolm)} over ${correlations.length} tests); ${passingTraits.size} trait(s) with |r| > 0.5 and Holm p < ${alpha}`
      : 'no trait vector had finite projections for the labelled prompts',
  };
}

/** Nested CV accuracy above 70% and the majority rate, beyond the permutation null (or AUROC interval). */
function classifierAccuracyCriterion(detection: DetectionResult, alpha: number): SuccessCriterionVerdict {
  const [id, criterion] = criteria[2];
  const best = detection.best;
  if (!best) return { id, criterion, status: 'fail', evidence: 'no layer had usable trait features' };
  const permutationP = detection.permutation?.pValue;
  const beyondChance = permutationP !== undefined ? permutationP < alpha : best.cvAurocInterval[0] > 0.5;
  const pass = best.cvAccuracy > 0.7 && best.cvAccuracy > detection.majorityRate && beyondChance;
  return {
    id,
    criterion,
    status: pass ? 'pass' : 'fail',
    evidence: `nested ${detection.validation.scheme} CV accuracy ${fixed(best.cvAccuracy * 100, 1)}% (majority class ${fixed(detection.majorityRate * 100, 1)}%), AUROC ${fixed(best.cvAuroc, 3)} [${fixed(best.cvAurocInterval[0], 3)}, ${fixed(best.cvAurocInterval[1], 3)}], ${permutationP !== undefined ? `${detection.permutation!.scheme} permutation p ${formatP(permutationP)}` : 'no permutation test'}; random vectors AUROC ${fixed(best.randomCvAuroc, 3)}`,
  };
}

/** The train-group classifier's AUROC interval on the held-out groups lies above 0.5. */
function generalisationCriterion(detection: DetectionResult): SuccessCriterionVerdict {
  const [id, criterion] = criteria[3];
  const generalization = detection.generalization;
  if (!generalization)
    return {
      id,
      criterion,
      status: 'not-run',
      evidence: 'no train/held-out group split (give --train-groups or prompts with split "train")',
    };
  return {
    id,
    criterion,
    status: generalization.testAurocInterval[0] > 0.5 ? 'pass' : 'fail',
    evidence: `trained on groups ${generalization.trainGroups.join(', ')}, layer ${generalization.layer} chosen on them; held-out groups ${generalization.testGroups.join(', ')}: AUROC ${fixed(generalization.testAuroc, 3)} [${fixed(generalization.testAurocInterval[0], 3)}, ${fixed(generalization.testAurocInterval[1], 3)}], accuracy ${fixed(generalization.testAccuracy * 100, 1)}%; random vectors ${fixed(generalization.randomTestAuroc, 3)}`,
  };
}
