import type { DatasetIssue } from './dataset-issue';

/** Which file format holds the prompts. */
export type TraitDatasetVariant = 'text' | 'jsonl';

/** One elicitation prompt: a scenario prefix (text variant) or an instruction prompt (jsonl variant). */
export interface TraitPrompt {
  /** 0-based position among the class's prompts (pairs share an index). */
  index: number;
  text: string;
  /** jsonl variant only: the system prompt for chat-templated generation. */
  systemPrompt?: string;
  /** 1-based line in the source file, for messages. */
  line: number;
}

/** The judge rubric of definition.txt. */
export interface TraitRubric {
  /** The whole file, as the judge sees it. */
  text: string;
  /** The HIGH (70-100) paragraph. */
  high: string;
  /** The LOW (0-40) paragraph. */
  low: string;
  /** The "Key:" line. */
  key: string;
}

/** steering.json. */
export interface TraitSteeringQuestions {
  questions: string[];
  evalPrompt?: string;
}

/** A loaded trait folder (`datasets/traits/<category>/<trait>/`). */
export interface TraitDataset {
  directory: string;
  /** `<category>/<trait>`, from the folder's last two path components. */
  name: string;
  category: string;
  trait: string;
  variant: TraitDatasetVariant;
  positive: TraitPrompt[];
  negative: TraitPrompt[];
  rubric?: TraitRubric;
  steering?: TraitSteeringQuestions;
  /** `sha256:<hex>` of the normalised prompt and rubric files; written into vector metadata. */
  hash: string;
  /** Everything the validator found (warnings only, when loading succeeded). */
  issues: DatasetIssue[];
}
