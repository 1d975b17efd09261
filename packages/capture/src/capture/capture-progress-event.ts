/** The two stages: generating with a variant, and replaying its token ids through another. */
export type CaptureStage = 'capture' | 'replay';

/** Reported as capture advances, for progress bars and logs. */
export type CaptureProgressEvent =
  /** One model load; every variant listed runs on it (a shared LoRA model serves several). */
  | { type: 'load'; variants: string[]; model: string; lora?: string }
  | {
      type: 'start';
      stage: CaptureStage;
      variant: string;
      promptSet: string;
      total: number;
      /** Prompts whose files were already complete (counted as done from the start). */
      skipped: number;
      /** Replay only: prompts the source variant has no response for. */
      missing: number;
    }
  | { type: 'tokens'; stage: 'capture'; variant: string; generatedTokens: number }
  | { type: 'prompt'; stage: CaptureStage; variant: string; promptId: string; done: number; total: number }
  /** Replay only: a prompt whose stored response this variant cannot read; the others go on. */
  | { type: 'failed'; stage: 'replay'; variant: string; promptId: string; reason: string };

/** A prompt replay left out, and why (also in `<variant folder>/replay-failures.json`). */
export interface ReplayFailure {
  promptId: string;
  reason: string;
}

/** What one stage did. */
export interface CaptureStageSummary {
  stage: CaptureStage;
  variant: string;
  promptSet: string;
  /** The variant's `inference/<variant>/<prompt_set>` folder. */
  directory: string;
  total: number;
  /** Prompts whose files were complete and left alone. */
  skipped: number;
  /** Prompts whose activation/projection files were written in this run. */
  written: number;
  /** Prompts generated in this run (capture); the rest of `written` reused stored responses. */
  generated: number;
  /** Replay only: prompts without a response of the source variant. */
  missing: number;
  generatedTokens: number;
  seconds: number;
  /** Replay only: prompts that could not be replayed, each with its reason. */
  failed?: ReplayFailure[];
}
