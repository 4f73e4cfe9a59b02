// Repository conventions that keep the code readable (DESIGN principle 8): every source file opens with
// a comment saying what it owns, and product code never reaches into test/ or bench/.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PRODUCT = ['proxy', 'cli', 'control-client', 'control-plane', 'certs'];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const files = ['proxy', 'cli', 'control-client', 'control-plane', 'certs', 'bench', 'test', 'examples']
  .flatMap((d) => { try { return tsFiles(join(root, d)); } catch { return []; } });

describe('source files', () => {
  it('each starts with a header comment saying what it owns', () => {
    const missing = files.filter((f) => !readFileSync(f, 'utf8').startsWith('//')).map((f) => relative(root, f));
    expect(missing).toEqual([]);
  });

  it('product code does not import test or bench code', () => {
    const offenders = files
      .filter((f) => PRODUCT.some((d) => relative(root, f).startsWith(`${d}/`)))
      .filter((f) => /from '(\.\.\/)+(test|bench)\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('proxy/ does not use Date.now, the global setTimeout/setInterval or Math.random (inject Clock/Random)', () => {
    const allowed = new Set(['proxy/common/clock.ts']);
    const offenders = files
      .filter((f) => relative(root, f).startsWith('proxy/') && !allowed.has(relative(root, f)))
      .filter((f) => /\bDate\.now\(|(?<![.\w])set(Timeout|Interval)\(|\bMath\.random\(/.test(readFileSync(f, 'utf8').replace(/\/\/.*$/gm, '')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });
});
