/**
 * Checks the shape of the library code (CONTRIBUTING.md, "Functions and parameters"): no function longer
 * than `maxFunctionLines` lines, and no positional parameter list of `maxPositionalParameters` or more
 * parameters or with a `boolean` parameter (use a named options object). Existing exceptions are listed in
 * `allowlist.json`, which may only shrink: a new exception fails, and so does an entry that no longer
 * applies (remove it, or run with `--prune`).
 *
 *   node --import tsx tools/code-shape/code-shape.ts          # check (part of `pnpm lint`)
 *   node --import tsx tools/code-shape/code-shape.ts --prune  # drop allowlist entries that were fixed
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** A function longer than this many lines (signature to closing brace) does more than one step. */
export const maxFunctionLines = 100;
/** A positional parameter list this long (or with a boolean) reads as a riddle at the call site. */
export const maxPositionalParameters = 5;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const allowlistPath = join(dirname(fileURLToPath(import.meta.url)), 'allowlist.json');

/** `<file>#<function>: <rule>` -> how many such findings that function may have. */
type Allowlist = Record<string, number>;

interface Finding {
  key: string;
  detail: string;
}

function sourceFiles(directory: string, out: string[] = []): string[] {
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'dist', '__fixtures__'].includes(entry.name)) sourceFiles(path, out);
    } else if (/\.ts$/.test(entry.name) && !/\.(test|d)\.ts$/.test(entry.name)) out.push(path);
  }
  return out;
}

function libraryFiles(): string[] {
  const packages = readdirSync(join(root, 'packages')).map((name) => join(root, 'packages', name, 'src'));
  return [...packages, join(root, 'datasets', 'src')]
    .filter((directory) => statSync(directory, { throwIfNoEntry: false })?.isDirectory())
    .flatMap((directory) => sourceFiles(directory));
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression
  | ts.ConstructorDeclaration;

function isFunctionNode(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node)
  );
}

/** The name a reader would search for: the declaration's, the variable's or property's, else the enclosing function's. */
function functionName(node: FunctionNode, file: ts.SourceFile): string {
  const className = (member: ts.Node) =>
    ts.isClassDeclaration(member.parent) && member.parent.name ? `${member.parent.name.text}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${className(node)}constructor`;
  if (node.name) return `${ts.isMethodDeclaration(node) ? className(node) : ''}${node.name.getText(file)}`;
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(file);
  for (let ancestor: ts.Node | undefined = parent; ancestor; ancestor = ancestor.parent)
    if (isFunctionNode(ancestor)) return `${functionName(ancestor, file)}/<anonymous>`;
  return '<anonymous>';
}

function inspectFile(path: string): Finding[] {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const relativePath = relative(root, path).split('\\').join('/');
  const findings: Finding[] = [];
  const line = (position: number) => file.getLineAndCharacterOfPosition(position).line + 1;
  const visit = (node: ts.Node): void => {
    if (isFunctionNode(node) && node.body) {
      const name = functionName(node, file);
      const start = line(node.getStart(file));
      const lines = line(node.end) - start + 1;
      if (lines > maxFunctionLines)
        findings.push({
          key: `${relativePath}#${name}: longer than ${maxFunctionLines} lines`,
          detail: `${relativePath}:${start} ${name} has ${lines} lines`,
        });
      const parameters = node.parameters.filter((parameter) => parameter.name.getText(file) !== 'this');
      const booleans = parameters.filter(
        (parameter) => parameter.type?.kind === ts.SyntaxKind.BooleanKeyword,
      );
      if (parameters.length >= maxPositionalParameters || booleans.length > 0)
        findings.push({
          key: `${relativePath}#${name}: positional parameters`,
          detail: `${relativePath}:${start} ${name} takes ${parameters.length} positional parameters${booleans.length > 0 ? ` (boolean: ${booleans.map((parameter) => parameter.name.getText(file)).join(', ')})` : ''}`,
        });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return findings;
}

function main(): void {
  const prune = process.argv.includes('--prune');
  const findings = libraryFiles().flatMap(inspectFile);
  const counts = new Map<string, Finding[]>();
  for (const finding of findings) counts.set(finding.key, [...(counts.get(finding.key) ?? []), finding]);
  const allowlist = JSON.parse(readFileSync(allowlistPath, 'utf8')) as Allowlist;
  const added: string[] = [];
  const fixed: string[] = [];
  for (const [key, found] of counts) {
    const allowed = allowlist[key] ?? 0;
    if (found.length > allowed) added.push(...found.map((finding) => finding.detail));
    else if (found.length < allowed) fixed.push(key);
  }
  for (const key of Object.keys(allowlist)) if (!counts.has(key)) fixed.push(key);
  if (prune && fixed.length > 0) {
    const pruned: Allowlist = {};
    for (const [key, allowed] of Object.entries(allowlist)) {
      const found = counts.get(key)?.length ?? 0;
      if (found > 0) pruned[key] = Math.min(allowed, found);
    }
    writeFileSync(allowlistPath, `${JSON.stringify(pruned, null, 2)}\n`);
    process.stdout.write(
      `code-shape: removed ${fixed.length} fixed entr${fixed.length === 1 ? 'y' : 'ies'} from the allowlist\n`,
    );
  } else if (fixed.length > 0) {
    process.stderr.write(
      `code-shape: fixed, so remove from tools/code-shape/allowlist.json (or run with --prune):\n${fixed.map((key) => `  ${key}`).join('\n')}\n`,
    );
  }
  if (added.length > 0)
    process.stderr.write(
      `code-shape: split these into one-step functions (at most ${maxFunctionLines} lines) or give them a named options object (fewer than ${maxPositionalParameters} positional parameters, no boolean):\n${added.map((detail) => `  ${detail}`).join('\n')}\n`,
    );
  const total = Object.values(allowlist).reduce((sum, count) => sum + count, 0);
  if (added.length > 0 || (fixed.length > 0 && !prune)) process.exitCode = 1;
  else process.stdout.write(`code-shape: ok (${findings.length} allowlisted findings of ${total} allowed)\n`);
}

main();
