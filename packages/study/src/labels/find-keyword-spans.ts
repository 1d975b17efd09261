function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Where `words` occur in a response, as half-open ranges of response token positions. ASCII words match
 * whole words, case-insensitively; other words (e.g. Japanese) match anywhere, since their scripts have no
 * spaces between words. Positions come from the per-token strings, so they index the stored token ids.
 */
export function findKeywordSpans(
  responseTokens: readonly string[],
  words: readonly string[],
): { spans: [number, number][]; matches: string[] } {
  const text = responseTokens.join('');
  const tokenAt: number[] = [];
  responseTokens.forEach((token, index) => {
    for (let i = 0; i < token.length; i++) tokenAt.push(index);
  });
  const spans: [number, number][] = [];
  const matches = new Set<string>();
  for (const word of words) {
    const pattern = /^[\x20-\x7e]+$/.test(word)
      ? new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(word.trim())}(?![\\p{L}\\p{N}])`, 'giu')
      : new RegExp(escapeRegExp(word), 'gu');
    for (const match of text.matchAll(pattern)) {
      const start = tokenAt[match.index];
      const end = tokenAt[match.index + match[0].length - 1];
      if (start === undefined || end === undefined) continue;
      spans.push([start, end + 1]);
      matches.add(word.trim());
    }
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return { spans: merged, matches: [...matches] };
}
