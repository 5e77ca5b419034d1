import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAst } from 'rolldown/parseAst';
import { describe, expect, it } from 'vitest';

/** The longest a function may be, in lines from its first to its last, outside the tests. */
const MAX_FUNCTION_LINES = 80;
const DASHBOARD_PAGE = 'functions/campaign-dashboard/page/index.html';

interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

/** Where a function is, and how long: `file:line name (n lines)`. */
interface LongFunction {
  where: string;
  name: string;
  lines: number;
}

/**
 * The functions of a source over the limit. A function is named by its own name, else by the variable, property,
 * or method it is assigned to; one nested in another is measured on its own too.
 */
function longFunctions(
  file: string,
  source: string,
  lang: 'ts' | 'js',
  firstLine = 1,
  limit = MAX_FUNCTION_LINES,
): LongFunction[] {
  const lineStarts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') lineStarts.push(i + 1);
  const lineAt = (offset: number) => {
    let low = 0;
    let high = lineStarts.length - 1;
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if ((lineStarts[middle] ?? 0) <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
  const found: LongFunction[] = [];
  const visit = (value: unknown, name: string | undefined): void => {
    if (!value || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const child of value) visit(child, name);
      return;
    }
    const node = value as Node;
    if (/Function/.test(node.type) && node.body) {
      const lines = lineAt(node.end) - lineAt(node.start) + 1;
      const own = (node.id as { name?: string } | null | undefined)?.name;
      if (lines > limit) {
        found.push({
          where: `${file}:${lineAt(node.start) + firstLine - 1}`,
          name: own ?? name ?? node.type,
          lines,
        });
      }
    }
    const key = (node.key ?? node.id) as { name?: string; value?: string } | undefined;
    const named = ['MethodDefinition', 'Property', 'PropertyDefinition', 'VariableDeclarator'].includes(
      node.type,
    )
      ? (key?.name ?? key?.value ?? name)
      : name;
    for (const [field, child] of Object.entries(node)) if (field !== 'parent') visit(child, named);
  };
  visit(parseAst(source, { lang }, file), undefined);
  return found;
}

/** The inline scripts of an HTML page, each with the line it starts on. */
function inlineScripts(html: string): { source: string; firstLine: number }[] {
  return [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((match) => ({
    source: match[1] ?? '',
    firstLine: html.slice(0, (match.index ?? 0) + match[0].indexOf('>') + 1).split('\n').length,
  }));
}

/** Every tracked TypeScript and ES module source outside the tests (declaration files hold no bodies). */
function trackedSources(): string[] {
  const files = execFileSync('git', ['ls-files', '-z', '--', '*.ts', '*.mts', '*.mjs'], { encoding: 'utf8' });
  return files
    .split('\0')
    .filter((file) => file !== '' && !/^(test|node_modules)\//.test(file) && !file.endsWith('.d.ts'));
}

const describeLong = (list: LongFunction[]) =>
  list.map((fn) => `${fn.where} ${fn.name}: ${fn.lines} lines`).sort();

describe('code shape', () => {
  it(`measures functions by their lines, nested ones too, named by what they are assigned to`, () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const source = [
      'export class Reader {',
      `  read(): void {\n${body(4)}\n  }`,
      `  private readonly handle = () => {\n${body(3)}\n  };`,
      '}',
      `const outer = function () {\n  const inner = (x: number) => {\n${body(3)}\n  };\n};`,
      `function short() {}`,
    ].join('\n');
    expect(describeLong(longFunctions('a.ts', source, 'ts', 1, 4))).toEqual([
      'a.ts:14 outer: 7 lines',
      'a.ts:15 inner: 5 lines',
      'a.ts:2 read: 6 lines',
      'a.ts:8 handle: 5 lines',
    ]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines outside the tests, the dashboard page's script included`, () => {
    const files = trackedSources();
    expect(files).toContain('lib/queries/records-repository.ts');
    const long = files.flatMap((file) => longFunctions(file, readFileSync(file, 'utf8'), 'ts'));
    const scripts = inlineScripts(readFileSync(DASHBOARD_PAGE, 'utf8'));
    expect(scripts.length).toBeGreaterThan(0);
    for (const { source, firstLine } of scripts)
      long.push(...longFunctions(DASHBOARD_PAGE, source, 'js', firstLine));
    expect(describeLong(long)).toEqual([]);
  });
});
