import { Template } from '@huggingface/jinja';
import { TraitlensError } from '@traitlens/core';
import type { ChatMessage } from '../model/model-types';

export interface RenderChatOptions {
  /** End with the assistant turn opener (default true: the usual case before generating). */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `tools`, `date_string`), passed through as given. */
  variables?: Readonly<Record<string, unknown>>;
}

/**
 * A model's Jinja chat template, rendered with the variables transformers passes (`messages`,
 * `add_generation_prompt`, the special-token strings; `raise_exception` is the engine's), so templates from the Hub
 * render the same text as `tokenizer.apply_chat_template(..., tokenize=False)`.
 */
export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;
  private readonly specialTokens: Readonly<Record<string, string>>;
  private readonly label: string;

  /**
   * @param specialTokens e.g. `{ bos_token: '<s>', eos_token: '</s>' }`.
   * @param label where the template came from, for error messages.
   */
  constructor(source: string, specialTokens: Readonly<Record<string, string>>, label: string) {
    this.source = source;
    this.specialTokens = specialTokens;
    this.label = label;
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new TraitlensError(
        'CHAT_TEMPLATE_ERROR',
        `The chat template in ${label} does not parse (${error instanceof Error ? error.message : String(error)}); fix or replace the template.`,
        { cause: error, details: { file: label } },
      );
    }
  }

  render(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
    messages.forEach((message, index) => {
      if (typeof message?.role !== 'string' || typeof message.content !== 'string') {
        throw new TraitlensError(
          'INVALID_ARGUMENT',
          `Chat message ${index} must be { role: string, content: string } (got ${JSON.stringify(message)}).`,
        );
      }
    });
    try {
      return this.template.render({
        ...this.specialTokens,
        ...options.variables,
        messages: messages.map((message) => ({ ...message })),
        add_generation_prompt: options.addGenerationPrompt ?? true,
      });
    } catch (error) {
      // Templates reject conversations with raise_exception('...'); its text is the useful part.
      const reason = error instanceof Error ? error.message : String(error);
      throw new TraitlensError(
        'CHAT_TEMPLATE_ERROR',
        `The chat template from ${this.label} failed to render: "${reason}". Check the message roles and order the template expects.`,
        {
          cause: error,
          details: { file: this.label },
        },
      );
    }
  }
}

/**
 * Picks the template text from a tokenizer_config `chat_template` value: a string, or a list of
 * `{ name, template }` (then `name`, else "default", else the first).
 */
export function selectChatTemplateSource(value: unknown, label: string, name?: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter(
      (entry): entry is { name: string; template: string } =>
        typeof entry === 'object' &&
        entry !== null &&
        typeof entry.name === 'string' &&
        typeof entry.template === 'string',
    );
    if (named.length !== value.length) {
      throw new TraitlensError(
        'CHAT_TEMPLATE_ERROR',
        `${label}: every entry of "chat_template" must be { "name": string, "template": string }.`,
        {
          details: { file: label },
        },
      );
    }
    const wanted = name ?? 'default';
    const chosen =
      named.find((entry) => entry.name === wanted) ?? (name === undefined ? named[0] : undefined);
    if (chosen === undefined) {
      throw new TraitlensError(
        'CHAT_TEMPLATE_ERROR',
        `${label} has no chat template named "${wanted}"; available: ${named.map((entry) => entry.name).join(', ') || 'none'}.`,
        { details: { file: label } },
      );
    }
    return chosen.template;
  }
  throw new TraitlensError(
    'CHAT_TEMPLATE_ERROR',
    `${label}: "chat_template" must be a string or a list of named templates (got ${typeof value}).`,
    {
      details: { file: label },
    },
  );
}
