/** Where a JSON text first goes wrong, 1-based, with a short reason. */
export interface JsonSyntaxErrorLocation {
  line: number;
  column: number;
  reason: string;
}

/**
 * Finds the first syntax error of a JSON text (undefined when it parses). JSON.parse's own messages
 * differ between Node versions and often omit the position; data set authors need a line and column.
 */
export function locateJsonSyntaxError(text: string): JsonSyntaxErrorLocation | undefined {
  let index = 0;
  const fail = (reason: string): never => {
    throw new JsonSyntaxFailure(index, reason);
  };
  const describe = (): string => (index >= text.length ? 'end of input' : `'${text[index]}'`);
  const skipWhitespace = (): void => {
    while (index < text.length && ' \t\n\r'.includes(text[index]!)) index++;
  };
  const expectLiteral = (literal: string): void => {
    if (text.startsWith(literal, index)) index += literal.length;
    else fail(`unexpected ${describe()} (expected a value)`);
  };
  const parseString = (): void => {
    index++; // opening quote
    while (index < text.length) {
      const char = text[index]!;
      if (char === '"') {
        index++;
        return;
      }
      if (char === '\\') {
        const next = text[index + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(index + 2, index + 6)))
            fail('invalid \\u escape in string');
          index += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) index += 2;
        else fail('invalid escape in string');
      } else if (char < ' ') {
        fail(char === '\n' ? 'line break inside a string (write \\n)' : 'control character inside a string');
      } else index++;
    }
    fail('unterminated string');
  };
  const parseNumber = (): void => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(index));
    if (!match) fail(`unexpected ${describe()} (expected a value)`);
    index += match![0].length;
  };
  const parseValue = (): void => {
    skipWhitespace();
    const char = text[index];
    if (char === '{') parseObject();
    else if (char === '[') parseArray();
    else if (char === '"') parseString();
    else if (char === 't') expectLiteral('true');
    else if (char === 'f') expectLiteral('false');
    else if (char === 'n') expectLiteral('null');
    else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) parseNumber();
    else fail(`unexpected ${describe()} (expected a value)`);
  };
  const parseArray = (): void => {
    index++;
    skipWhitespace();
    if (text[index] === ']') {
      index++;
      return;
    }
    for (;;) {
      parseValue();
      skipWhitespace();
      if (text[index] === ',') {
        index++;
        skipWhitespace();
        if (text[index] === ']') fail("trailing comma before ']'");
        continue;
      }
      if (text[index] === ']') {
        index++;
        return;
      }
      fail(`unexpected ${describe()} (expected ',' or ']')`);
    }
  };
  const parseObject = (): void => {
    index++;
    skipWhitespace();
    if (text[index] === '}') {
      index++;
      return;
    }
    for (;;) {
      skipWhitespace();
      if (text[index] !== '"') fail(`unexpected ${describe()} (expected a "key")`);
      parseString();
      skipWhitespace();
      if (text[index] !== ':') fail(`unexpected ${describe()} (expected ':')`);
      index++;
      parseValue();
      skipWhitespace();
      if (text[index] === ',') {
        index++;
        skipWhitespace();
        if (text[index] === '}') fail("trailing comma before '}'");
        continue;
      }
      if (text[index] === '}') {
        index++;
        return;
      }
      fail(`unexpected ${describe()} (expected ',' or '}')`);
    }
  };
  try {
    parseValue();
    skipWhitespace();
    if (index < text.length) fail(`unexpected ${describe()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (!(error instanceof JsonSyntaxFailure)) throw error;
    const before = text.slice(0, error.offset);
    const line = before.split('\n').length;
    const column = error.offset - before.lastIndexOf('\n');
    return { line, column, reason: error.reason };
  }
}

class JsonSyntaxFailure extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}
