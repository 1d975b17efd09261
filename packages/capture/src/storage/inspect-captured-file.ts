import { SafetensorsFile, TraitlensError } from '@traitlens/core';

/** Token ids stored as an I32 tensor, read exactly (other integer dtypes go through float32). */
export async function readTokenIdTensor(file: SafetensorsFile, name: string): Promise<Int32Array> {
  const info = file.info(name);
  if (info.dtype === 'I32') return new Int32Array((await file.readBytes(name)).slice().buffer);
  return Int32Array.from(await file.readFloat32(name));
}

/** What an existing activation or projection file holds, read from its header and id tensors only. */
export interface CapturedFileState {
  promptTokenIds: Int32Array;
  responseTokenIds: Int32Array;
  tensorNames: ReadonlySet<string>;
  metadata: Readonly<Record<string, string>>;
}

/**
 * Reads the header and token ids of a file capture wrote earlier, to decide whether a resumed run can
 * skip the prompt. A missing file, or one that is not readable safetensors with id tensors, gives
 * undefined: the prompt is captured again and the file replaced (atomically).
 */
export async function inspectCapturedFile(path: string): Promise<CapturedFileState | undefined> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(path);
  } catch (error) {
    if (
      TraitlensError.hasCode(error, 'FILE_NOT_FOUND') ||
      TraitlensError.hasCode(error, 'INVALID_SAFETENSORS')
    )
      return undefined;
    throw error;
  }
  try {
    if (!file.tensors.has('prompt_ids') || !file.tensors.has('response_ids')) return undefined;
    return {
      promptTokenIds: await readTokenIdTensor(file, 'prompt_ids'),
      responseTokenIds: await readTokenIdTensor(file, 'response_ids'),
      tensorNames: new Set(file.tensors.keys()),
      metadata: file.metadata,
    };
  } finally {
    await file.close();
  }
}

export function sameTokenIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
