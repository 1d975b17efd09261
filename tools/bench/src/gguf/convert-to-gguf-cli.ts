/**
 * Converts a Hugging Face Llama folder to GGUF for llama.cpp, with the project's own converter:
 *
 *   pnpm --filter @traitlens/bench gguf:convert --model <folder> --type f32|q8_0|q4_0 --out <file.gguf>
 *
 * Relative paths are resolved against the directory the command was started from.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { callerPath } from '../caller-path';
import { convertLlamaToGguf } from './convert-llama-to-gguf';
import type { GgmlTypeName } from './ggml-quantize';

const { values } = parseArgs({
  options: { model: { type: 'string' }, type: { type: 'string', default: 'f32' }, out: { type: 'string' } },
});
if (!values.model || !values.out || !['f32', 'q8_0', 'q4_0'].includes(values.type)) {
  process.stderr.write('usage: gguf:convert --model <hf folder> --type f32|q8_0|q4_0 --out <file.gguf>\n');
  process.exit(2);
}
await convertLlamaToGguf({
  modelDirectory: callerPath(values.model),
  outputPath: callerPath(values.out),
  type: values.type as GgmlTypeName,
});
process.stderr.write(`wrote ${resolve(callerPath(values.out))}\n`);
