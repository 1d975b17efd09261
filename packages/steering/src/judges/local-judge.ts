import { type Judge, type JudgeRequest, TraitlensError } from '@traitlens/core';
import type { LanguageModel } from '@traitlens/model-runtime';
import {
  defaultJudgePromptTemplates,
  defaultResponseCharacterLimit,
  type JudgePromptTemplates,
  renderJudgePrompt,
} from './judge-prompt-templates';
import { scoreFromNumberProbabilities } from './score-from-number-probabilities';

export interface LocalJudgeOptions {
  /** An instruct model; any size works, larger ones judge better. */
  model: LanguageModel;
  prompts?: Partial<JudgePromptTemplates>;
  /** Minimum probability mass on integers for a score (default 0.25). */
  massFloor?: number;
  responseCharacterLimit?: number;
  /** `chat` (default when the tokenizer has a chat template) or `raw` text ending in "Score:". */
  promptFormat?: 'chat' | 'raw';
  /** Rows per `score` call (default 16). */
  batchSize?: number;
}

/** Token sequences of the answers "0" ... "100" as a trie, so digit-by-digit tokenizers work too. */
interface AnswerTrieNode {
  prefix: number[];
  children: Map<number, AnswerTrieNode>;
  /** The integer this token sequence spells, if it is a complete answer. */
  value: number | undefined;
}

interface PendingRows {
  rows: number[][];
  resolve: (logprobs: Float32Array[]) => void;
  reject: (error: unknown) => void;
}

/**
 * A judge that runs a local model through `LanguageModel.score` (no network). It reads the same
 * distribution as the endpoint judge: the probability of every answer "0" ... "100", from the
 * next-token log-probabilities. On tokenizers with one token per number that is one row; on
 * tokenizers that spell numbers digit by digit (Qwen, SentencePiece) the probability of "85" is
 * P("8") * P("5" | "8") * P(no further digit | "85"), read from one row per prefix in the same batch.
 * Requests that arrive together are scored in shared batches.
 */
export class LocalJudge implements Judge {
  readonly id: string;
  /** Rows sent to `model.score`. */
  scoredRows = 0;
  private readonly model: LanguageModel;
  private readonly templates: JudgePromptTemplates;
  private readonly massFloor: number;
  private readonly responseCharacterLimit: number;
  private readonly promptFormat: 'chat' | 'raw';
  private readonly batchSize: number;
  private readonly trie: AnswerTrieNode;
  private readonly branchingNodes: AnswerTrieNode[];
  private pending: PendingRows[] = [];
  private flushScheduled = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: LocalJudgeOptions) {
    this.model = options.model;
    this.id = `local:${options.model.id}`;
    this.templates = { ...defaultJudgePromptTemplates, ...options.prompts };
    this.massFloor = options.massFloor ?? 0.25;
    this.responseCharacterLimit = options.responseCharacterLimit ?? defaultResponseCharacterLimit;
    this.promptFormat = options.promptFormat ?? (options.model.tokenizer.hasChatTemplate ? 'chat' : 'raw');
    this.batchSize = options.batchSize ?? 16;
    this.trie = this.buildAnswerTrie();
    this.branchingNodes = [];
    const visit = (node: AnswerTrieNode) => {
      if (node.children.size > 0) this.branchingNodes.push(node);
      for (const child of node.children.values()) visit(child);
    };
    visit(this.trie);
  }

  async score(request: JudgeRequest): Promise<number | null> {
    const text = renderJudgePrompt(request, this.templates, this.responseCharacterLimit);
    const promptIds =
      this.promptFormat === 'chat'
        ? this.model.encodePrompt([{ role: 'user', content: text }], { addGenerationPrompt: true })
        : this.model.encodePrompt(`${text}\n\nScore:`);
    const logprobs = await this.scoreRows(this.branchingNodes.map((node) => [...promptIds, ...node.prefix]));
    const logprobsByNode = new Map(this.branchingNodes.map((node, index) => [node, logprobs[index]!]));
    const probabilities = new Map<number, number>();
    const walk = (node: AnswerTrieNode, probability: number) => {
      const next = logprobsByNode.get(node);
      let continuation = 0;
      if (next) {
        for (const [token, child] of node.children) {
          const childProbability = Math.exp(next[token] ?? Number.NEGATIVE_INFINITY);
          continuation += childProbability;
          walk(child, probability * childProbability);
        }
      }
      if (node.value !== undefined) {
        probabilities.set(
          node.value,
          (probabilities.get(node.value) ?? 0) + probability * Math.max(0, 1 - continuation),
        );
      }
    };
    walk(this.trie, 1);
    return scoreFromNumberProbabilities(probabilities, this.massFloor);
  }

  /**
   * The token sequence of each answer in context: the tokens that follow the prompt's ending when the
   * number is appended (so a SentencePiece "▁8" or a byte-level " 85" is what is looked up).
   */
  private buildAnswerTrie(): AnswerTrieNode {
    const { tokenizer } = this.model;
    const probe =
      this.promptFormat === 'chat'
        ? this.model.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })
        : 'x\n\nScore:';
    const separator = this.promptFormat === 'chat' ? '' : ' ';
    const probeIds = tokenizer.encode(probe, { addSpecialTokens: false });
    const root: AnswerTrieNode = { prefix: [], children: new Map(), value: undefined };
    for (let value = 0; value <= 100; value++) {
      const withAnswer = tokenizer.encode(`${probe}${separator}${value}`, { addSpecialTokens: false });
      const keepsProbe = probeIds.every((id, index) => withAnswer[index] === id);
      // If the answer merged with the prompt's last token, fall back to the number tokenised alone.
      const sequence = keepsProbe
        ? withAnswer.slice(probeIds.length)
        : tokenizer.encode(`${separator}${value}`, { addSpecialTokens: false });
      if (sequence.length === 0) continue;
      let node = root;
      for (const token of sequence) {
        let child = node.children.get(token);
        if (!child) {
          child = { prefix: [...node.prefix, token], children: new Map(), value: undefined };
          node.children.set(token, child);
        }
        node = child;
      }
      node.value ??= value;
    }
    if (root.children.size === 0) {
      throw new TraitlensError(
        'TOKENIZER_ERROR',
        `The tokenizer of ${this.model.id} produced no tokens for the numbers 0-100; it cannot serve as a local judge.`,
      );
    }
    return root;
  }

  private scoreRows(rows: number[][]): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ rows, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      // Wait one macrotask so judgements requested together (Promise.all) share batches.
      setImmediate(() => {
        this.flushScheduled = false;
        this.queue = this.queue.then(() => this.flush());
      });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    const rows = batch.flatMap((entry) => entry.rows);
    try {
      const results: Float32Array[] = [];
      for (let start = 0; start < rows.length; start += this.batchSize) {
        const chunk = rows.slice(start, start + this.batchSize);
        const scored = await this.model.score(chunk);
        if (scored.length !== chunk.length)
          throw new TraitlensError(
            'RUNTIME_ERROR',
            `score returned ${scored.length} rows for ${chunk.length}.`,
          );
        this.scoredRows += chunk.length;
        results.push(...scored);
      }
      let offset = 0;
      for (const entry of batch) {
        entry.resolve(results.slice(offset, offset + entry.rows.length));
        offset += entry.rows.length;
      }
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}
