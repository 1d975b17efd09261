import { TraitlensError } from '@traitlens/core';

const units: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Parses a memory size such as `80GB`, `80 GiB` or `81559MiB` (what nvidia-smi prints) into bytes. GB is
 * 10^9 and GiB 2^30; a bare number is refused because "80" could mean either.
 */
export function parseByteSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/i.exec(text);
  const factor = match ? units[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new TraitlensError(
      'INVALID_ARGUMENT',
      `"${text}" is not a memory size; write it with a unit, e.g. 80GB, 80GiB or 81559MiB (GB = 10^9 bytes, GiB = 2^30).`,
      { details: { value: text } },
    );
  }
  return Math.round(Number(match[1]) * factor);
}
