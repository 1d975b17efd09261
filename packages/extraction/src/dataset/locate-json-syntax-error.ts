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
  const scanner = new JsonScanner(text);
  try {
    scanner.parseDocument();
    return undefined;
  } catch (error) {
    if (!(error instanceof JsonSyntaxFailure)) throw error;
    const before = text.slice(0, error.offset);
    const line = before.split('\n').length;
    const column = error.offset - before.lastIndexOf('\n');
    return { line, column, reason: error.reason };
  }
}

/** A recursive-descent walk over JSON that throws a JsonSyntaxFailure at the first error. */
class JsonScanner {
  private index = 0;

  constructor(private readonly text: string) {}

  parseDocument(): void {
    this.parseValue();
    this.skipWhitespace();
    if (this.index < this.text.length)
      this.fail(`unexpected ${this.describe()} after the end of the JSON value`);
  }

  private fail(reason: string): never {
    throw new JsonSyntaxFailure(this.index, reason);
  }

  private describe(): string {
    return this.index >= this.text.length ? 'end of input' : `'${this.text[this.index]}'`;
  }

  private skipWhitespace(): void {
    const { text } = this;
    while (this.index < text.length && ' \t\n\r'.includes(text.charAt(this.index))) this.index++;
  }

  private expectLiteral(literal: string): void {
    if (this.text.startsWith(literal, this.index)) this.index += literal.length;
    else this.fail(`unexpected ${this.describe()} (expected a value)`);
  }

  private parseString(): void {
    const { text } = this;
    this.index++; // opening quote
    while (this.index < text.length) {
      const char = text.charAt(this.index);
      if (char === '"') {
        this.index++;
        return;
      }
      if (char === '\\') this.skipEscape();
      else if (char < ' ')
        this.fail(
          char === '\n' ? 'line break inside a string (write \\n)' : 'control character inside a string',
        );
      else this.index++;
    }
    this.fail('unterminated string');
  }

  private skipEscape(): void {
    const { text } = this;
    const next = text[this.index + 1];
    if (next === 'u') {
      if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.index + 2, this.index + 6)))
        this.fail('invalid \\u escape in string');
      this.index += 6;
    } else if (next !== undefined && '"\\/bfnrt'.includes(next)) this.index += 2;
    else this.fail('invalid escape in string');
  }

  private parseNumber(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.index));
    if (!match) this.fail(`unexpected ${this.describe()} (expected a value)`);
    else this.index += match[0].length;
  }

  private parseValue(): void {
    this.skipWhitespace();
    const char = this.text[this.index];
    if (char === '{') this.parseObject();
    else if (char === '[') this.parseArray();
    else if (char === '"') this.parseString();
    else if (char === 't') this.expectLiteral('true');
    else if (char === 'f') this.expectLiteral('false');
    else if (char === 'n') this.expectLiteral('null');
    else if (char === '-' || (char !== undefined && char >= '0' && char <= '9')) this.parseNumber();
    else this.fail(`unexpected ${this.describe()} (expected a value)`);
  }

  private parseArray(): void {
    this.index++;
    this.skipWhitespace();
    if (this.text[this.index] === ']') {
      this.index++;
      return;
    }
    for (;;) {
      this.parseValue();
      if (this.closeOrContinue(']')) return;
    }
  }

  private parseObject(): void {
    this.index++;
    this.skipWhitespace();
    if (this.text[this.index] === '}') {
      this.index++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.index] !== '"') this.fail(`unexpected ${this.describe()} (expected a "key")`);
      this.parseString();
      this.skipWhitespace();
      if (this.text[this.index] !== ':') this.fail(`unexpected ${this.describe()} (expected ':')`);
      this.index++;
      this.parseValue();
      if (this.closeOrContinue('}')) return;
    }
  }

  /** After an element: a comma (not before the closing bracket) goes on, the closing bracket ends. */
  private closeOrContinue(close: ']' | '}'): boolean {
    this.skipWhitespace();
    if (this.text[this.index] === ',') {
      this.index++;
      this.skipWhitespace();
      if (this.text[this.index] === close) this.fail(`trailing comma before '${close}'`);
      return false;
    }
    if (this.text[this.index] === close) {
      this.index++;
      return true;
    }
    return this.fail(`unexpected ${this.describe()} (expected ',' or '${close}')`);
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
