/**
 * Type-only exports of the packages' public entries (`.`) that no public value reaches: no parameter,
 * return value, property or base type of an exported function, class or constant names them, directly
 * or through other types. Such a type documents nothing a user can pass or receive; drop it from
 * index.ts unless the package's README or docs/ name it (CONTRIBUTING.md). Types a public signature
 * reaches must stay exported. Slow (type-checks every package, about a minute on a loaded machine):
 *
 *   node --import tsx tools/api-report/unreachable-types.ts   # JSON: per package, kept and unreachable
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { collectExports } from './api-report.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const packages = readdirSync(join(root, 'packages')).filter((name) =>
  existsSync(join(root, 'packages', name, 'src', 'index.ts')),
);
const entries = packages.map((name) => join(root, 'packages', name, 'src', 'index.ts'));
const config = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile).config;
const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root);
const program = ts.createProgram(entries, { ...parsed.options, noEmit: true });
const checker = program.getTypeChecker();

const reached = new Set<ts.Symbol>();
const seenTypes = new Set<ts.Type>();
const resolve = (symbol: ts.Symbol) =>
  symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;

function isHidden(symbol: ts.Symbol): boolean {
  const flags = ts.getDeclarationModifierFlagsFromSymbol(symbol);
  return (
    (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 || symbol.name.startsWith('#')
  );
}

function visitSignature(signature: ts.Signature): void {
  for (const parameter of signature.getParameters()) visitType(checker.getTypeOfSymbol(parameter));
  visitType(signature.getReturnType());
  for (const typeParameter of signature.getTypeParameters() ?? []) {
    const constraint = typeParameter.getConstraint();
    if (constraint) visitType(constraint);
  }
}

function visitType(type: ts.Type): void {
  if (seenTypes.has(type)) return;
  seenTypes.add(type);
  if (type.aliasSymbol) {
    reached.add(resolve(type.aliasSymbol));
    for (const argument of type.aliasTypeArguments ?? []) visitType(argument);
  }
  if (type.symbol) reached.add(resolve(type.symbol));
  if (type.isUnionOrIntersection()) for (const member of type.types) visitType(member);
  if (type.flags & ts.TypeFlags.Object) {
    const object = type as ts.ObjectType;
    if (object.objectFlags & ts.ObjectFlags.Reference)
      for (const argument of checker.getTypeArguments(type as ts.TypeReference)) visitType(argument);
    // Library types (Float32Array, Promise, ...): their members name no traitlens type.
    const declaration = type.symbol?.declarations?.[0];
    if (declaration?.getSourceFile().fileName.includes('node_modules')) return;
    for (const property of checker.getPropertiesOfType(type)) {
      if (isHidden(property)) continue;
      visitType(checker.getTypeOfSymbol(property));
    }
    for (const signature of type.getCallSignatures()) visitSignature(signature);
    for (const signature of type.getConstructSignatures()) visitSignature(signature);
    for (const info of checker.getIndexInfosOfType(type)) visitType(info.type);
    const baseTypes = type.isClassOrInterface() ? checker.getBaseTypes(type) : [];
    for (const base of baseTypes) visitType(base);
  }
  if (type.flags & ts.TypeFlags.Index) visitType((type as ts.IndexType).type);
  if (type.flags & ts.TypeFlags.IndexedAccess) {
    visitType((type as ts.IndexedAccessType).objectType);
    visitType((type as ts.IndexedAccessType).indexType);
  }
}

const exportsByPackage = new Map<string, { name: string; kind: string; symbol: ts.Symbol }[]>();
for (const [i, name] of packages.entries()) {
  const source = program.getSourceFile(entries[i]!)!;
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  const list = [];
  const kinds = new Map(collectExports(entries[i]!).map((entry) => [entry.name, entry.kind]));
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    list.push({ name: exported.name, kind: kinds.get(exported.name) ?? '?', symbol: resolve(exported) });
  }
  exportsByPackage.set(name, list);
}
// The roots: every value that a `.` entry exports.
for (const list of exportsByPackage.values()) {
  for (const entry of list) {
    if (entry.kind !== 'value') continue;
    const symbol = entry.symbol;
    const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
    if (!declaration) continue;
    visitType(checker.getTypeOfSymbolAtLocation(symbol, declaration));
    if (symbol.flags & ts.SymbolFlags.Class) visitType(checker.getDeclaredTypeOfSymbol(symbol));
  }
}
// Aliases that the checker resolves away (indexed-access unions such as HookSite) are found in the
// signature syntax: every type name written in a reached declaration's signature is reached too.
function signatureTypeNodes(declaration: ts.Node): ts.Node[] {
  if (ts.isInterfaceDeclaration(declaration) || ts.isTypeAliasDeclaration(declaration)) return [declaration];
  if (ts.isFunctionLike(declaration))
    return [
      ...declaration.parameters
        .map((parameter) => parameter.type)
        .filter((node): node is ts.TypeNode => !!node),
      ...(declaration.type ? [declaration.type] : []),
      ...(declaration.typeParameters ?? []),
    ];
  if (
    ts.isVariableDeclaration(declaration) ||
    ts.isPropertyDeclaration(declaration) ||
    ts.isPropertySignature(declaration)
  )
    return declaration.type ? [declaration.type] : [];
  if (ts.isClassDeclaration(declaration)) {
    const nodes: ts.Node[] = [...(declaration.heritageClauses ?? []), ...(declaration.typeParameters ?? [])];
    for (const member of declaration.members) {
      const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
      if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
      if (member.name && ts.isPrivateIdentifier(member.name)) continue;
      nodes.push(...signatureTypeNodes(member));
    }
    return nodes;
  }
  return [];
}
const walked = new Set<ts.Symbol>();
let changed = true;
const rootValues = [...exportsByPackage.values()]
  .flat()
  .filter((entry) => entry.kind === 'value')
  .map((entry) => entry.symbol);
while (changed) {
  changed = false;
  for (const symbol of [...rootValues, ...reached]) {
    if (walked.has(symbol)) continue;
    walked.add(symbol);
    for (const declaration of symbol.declarations ?? []) {
      if (declaration.getSourceFile().fileName.includes('node_modules')) continue;
      const visit = (node: ts.Node): void => {
        if (
          ts.isTypeReferenceNode(node) ||
          ts.isExpressionWithTypeArguments(node) ||
          ts.isTypeQueryNode(node)
        ) {
          const name = ts.isTypeReferenceNode(node)
            ? node.typeName
            : ts.isTypeQueryNode(node)
              ? node.exprName
              : node.expression;
          const target = checker.getSymbolAtLocation(ts.isQualifiedName(name) ? name.right : name);
          if (target) {
            const resolved = resolve(target);
            if (!reached.has(resolved)) {
              reached.add(resolved);
              changed = true;
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      for (const node of signatureTypeNodes(declaration)) visit(node);
    }
  }
}
const result: Record<string, { kept: string[]; unreachable: string[] }> = {};
for (const [name, list] of exportsByPackage) {
  const types = list.filter((entry) => entry.kind === 'type');
  result[name] = {
    kept: types.filter((entry) => reached.has(entry.symbol)).map((entry) => entry.name),
    unreachable: types.filter((entry) => !reached.has(entry.symbol)).map((entry) => entry.name),
  };
}
console.log(JSON.stringify(result, null, 1));
