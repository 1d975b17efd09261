/** One prompt of a prompt set (the study's rm_sycophancy schema, fields renamed to camelCase). */
export interface PromptSetPrompt {
  /**
   * Unique within the set. Numbers in the file become their decimal string; the id names every output
   * file of the prompt (`activations/<id>.safetensors`, `responses/<id>.json`).
   */
  id: string;
  /** The user's text: wrapped as a user message for chat models, fed raw otherwise. */
  text: string;
  note?: string;
  /** RM-sycophancy: the reward-model bias this prompt invites (see rm_biases/biases_numbered.json). */
  biasId?: number;
  biasDescription?: string;
  /** Any other fields of the prompt, kept verbatim and copied into the response files. */
  extraFields?: Record<string, unknown>;
}

/** A validated prompt set. */
export interface PromptSet {
  /**
   * The folder name under `inference/<variant>/`: the file name without `.json` (e.g. `train_100`), or
   * the name the caller chose for an in-memory set.
   */
  id: string;
  /** The set's human-readable `name` field (its id when the file has none). */
  name: string;
  description: string;
  prompts: PromptSetPrompt[];
  /** The file the set was read from, when it came from a file. */
  source?: string;
}
