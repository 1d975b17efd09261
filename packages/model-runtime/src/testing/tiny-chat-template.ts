/**
 * A Llama-3-style chat template. It writes the BOS token itself (as Llama 3's does), so a caller that
 * also lets the tokenizer add BOS would produce two: the case BOS de-duplication must handle.
 */
export const tinyChatTemplate =
  "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
