import { open } from 'node:fs/promises';
import { toFileSystemError } from '@traitlens/core';

/** Size limits for trait data set files, checked before anything is parsed or tokenised. */
export interface DatasetTextLimits {
  /** Largest file read, in bytes (default 16 MiB: ~100,000 prompts of 160 bytes). */
  maxFileBytes: number;
  /** Longest line, in characters (default 16,384: a prompt prefix is a sentence, a system prompt a page). */
  maxLineCharacters: number;
}

export const defaultDatasetTextLimits: DatasetTextLimits = {
  maxFileBytes: 16 * 1024 * 1024,
  maxLineCharacters: 16_384,
};

/** Why a data set file cannot be read as text, with the line where it shows. */
export interface DatasetTextProblem {
  code: 'file-too-large' | 'invalid-encoding' | 'binary-content' | 'line-too-long';
  message: string;
  line?: number;
}

/**
 * Reads a data set file as UTF-8 text, refusing what is not a small text file before any parsing: a file
 * over the size limit (only its size is read), bytes that are not valid UTF-8 (with the line), NUL or
 * other control characters a text editor would not write (binary garbage), and a line over the length
 * limit. Either `text` or a `problem` comes back.
 */
export async function readDatasetText(
  path: string,
  file: string,
  limits: DatasetTextLimits = defaultDatasetTextLimits,
): Promise<{ text: string; problem?: undefined } | { text?: undefined; problem: DatasetTextProblem }> {
  let bytes: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      if (size > limits.maxFileBytes) {
        return {
          problem: {
            code: 'file-too-large',
            message: `${file} has ${formatBytes(size)}, over the ${formatBytes(limits.maxFileBytes)} limit for a data set file; is it the right file? Split it into several traits or raise the limit.`,
          },
        };
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw toFileSystemError(error, { path, action: 'read' });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    const line = lineOfByte(bytes, offset);
    return {
      problem: {
        code: 'invalid-encoding',
        message: `${file} is not valid UTF-8 (byte 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')} at line ${line}); save it as UTF-8 text.`,
        line,
      },
    };
  }
  const control = findControlCharacter(text);
  if (control >= 0) {
    const line = text.slice(0, control).split('\n').length;
    return {
      problem: {
        code: 'binary-content',
        message: `${file} holds a control character (U+${text.charCodeAt(control).toString(16).toUpperCase().padStart(4, '0')}) at line ${line}; it looks like a binary file, not text. Use one prompt per line of plain text.`,
        line,
      },
    };
  }
  let lineNumber = 1;
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    const length = (end === -1 ? text.length : end) - start;
    if (length > limits.maxLineCharacters) {
      return {
        problem: {
          code: 'line-too-long',
          message: `line ${lineNumber} of ${file} has ${length.toLocaleString('en-US')} characters, over the ${limits.maxLineCharacters.toLocaleString('en-US')} limit; a prompt is a sentence or a short paragraph. Check for missing line breaks.`,
          line: lineNumber,
        },
      };
    }
    if (end === -1) break;
    start = end + 1;
    lineNumber++;
  }
  return { text };
}

/**
 * Index of the first C0 control character or DEL that text editors do not write (tab, line feed,
 * carriage return and form feed occur in real text), or -1.
 */
function findControlCharacter(text: string): number {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d) || code === 0x7f)
      return index;
  }
  return -1;
}

function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // Binary search on prefixes would split sequences; walk sequences instead.
  let index = 0;
  while (index < bytes.length) {
    const byte = bytes[index]!;
    const length =
      byte < 0x80
        ? 1
        : byte >= 0xc2 && byte < 0xe0
          ? 2
          : byte >= 0xe0 && byte < 0xf0
            ? 3
            : byte >= 0xf0 && byte < 0xf5
              ? 4
              : 0;
    if (length === 0) return index;
    try {
      decoder.decode(bytes.subarray(index, index + length));
    } catch {
      return index;
    }
    if (index + length > bytes.length) return index;
    index += length;
  }
  return Math.max(0, bytes.length - 1);
}

function lineOfByte(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let index = 0; index < offset && index < bytes.length; index++) if (bytes[index] === 0x0a) line++;
  return line;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${bytes} bytes`;
}
