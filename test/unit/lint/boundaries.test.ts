// The boundaries lint enforces (eslint.config.js) and the import-cycle check
// (scripts/check-imports.ts), each shown to catch a probe that breaks it and to let the allowed
// form through: a rule that never fires would pass every lint run while enforcing nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { findCycles, importGraph, importsOf } from '../../../scripts/check-imports.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** The messages lint gives `code` as if it were the file at `path` (nothing is written). */
async function lintAs(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (result?.messages ?? []).map((message) => `${message.ruleId ?? 'parse'}: ${message.message}`);
}

const probes: ReadonlyArray<{ what: string; code: string; refusedIn: string; allowedIn?: string; says: RegExp }> = [
  { what: 'a static vendor import outside its door', code: "import pino from 'pino';\nexport const p = pino;\n", refusedIn: 'src/service.ts', allowedIn: 'src/log.ts', says: /only in src\/log\.ts/ },
  { what: 'a dynamic vendor import outside its door', code: "export const p = import('pino');\n", refusedIn: 'src/service.ts', allowedIn: 'src/log.ts', says: /only in src\/log\.ts/ },
  { what: 'yargs outside the typing', code: "export const y = import('yargs');\n", refusedIn: 'src/cli/command-line.ts', allowedIn: 'src/cli/typing.ts', says: /only in src\/cli\/typing\.ts/ },
  { what: 'prom-client outside the registry', code: "export const c = import('prom-client');\n", refusedIn: 'src/metrics/setup.ts', allowedIn: 'src/metrics/registry.ts', says: /only in src\/metrics\/registry\.ts/ },
  { what: 'import() of a computed name', code: "const name = 'pi' + 'no';\nexport const p = import(name);\n", refusedIn: 'src/log.ts', says: /literal module name/ },
  {
    what: 'createRequire outside the addon loader', code: "import { createRequire } from 'node:module';\nexport const r = createRequire(import.meta.url);\n",
    refusedIn: 'src/proxy/tcp/splice-relay.ts', allowedIn: 'src/proxy/addon.ts', says: /only src\/proxy\/addon\.ts loads native addons/,
  },
  {
    what: 'process.dlopen outside the addon loader', code: "const m = { exports: {} };\nprocess.dlopen(m, '/x/splice.node');\nexport const e = m.exports;\n",
    refusedIn: 'src/proxy/udp/native-udp-proxy.ts', allowedIn: 'src/proxy/addon.ts', says: /loads native addons \(process\.dlopen\)/,
  },
  { what: 'require of a .node file', code: "declare const require: (id: string) => unknown;\nexport const a = require('../build/Release/splice.node');\n", refusedIn: 'src/main.ts', says: /loads native addons/ },
  { what: 'the data plane importing metrics/', code: "import type { Metrics } from '../../metrics/registry.js';\nexport type M = Metrics;\n", refusedIn: 'src/proxy/tcp/probe.ts', says: /data plane/ },
  { what: 'the data plane importing cli/', code: "export const f = import('../cli/flags.js');\n", refusedIn: 'src/proxy/probe.ts', says: /data plane/ },
  { what: 'the data plane importing the supervisor', code: "import type { Supervisor } from '../../supervisor.js';\nexport type S = Supervisor;\n", refusedIn: 'src/proxy/udp/probe.ts', allowedIn: 'src/metrics/probe.ts', says: /data plane/ },
];

describe('lint boundaries', () => {
  for (const probe of probes) {
    it(`refuses ${probe.what} (${probe.refusedIn})`, async () => {
      const messages = await lintAs(probe.refusedIn, probe.code);
      assert.ok(messages.some((message) => probe.says.test(message)), messages.join('\n') || 'no message at all');
    });
    const allowedIn = probe.allowedIn;
    if (allowedIn !== undefined) {
      it(`allows it in ${allowedIn}`, async () => assert.deepEqual(await lintAs(allowedIn, probe.code), []));
    }
  }
});

describe('import cycles', () => {
  it('src/ has none, type-only and dynamic imports included', () => {
    assert.deepEqual(findCycles(importGraph(join(ROOT, 'src'))), []);
  });
  it('follows type-only and dynamic imports, resolving .js to .ts', () => {
    const text = "import type { A } from './a.js';\nexport const b = import('./b.js');\nimport 'node:fs';\n";
    assert.deepEqual(importsOf('/x/src/c.ts', text), ['/x/src/a.ts', '/x/src/b.ts']);
  });
  it('finds a cycle made of a type-only import, and a self-import', () => {
    const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['d']], ['e', ['a']]]);
    assert.deepEqual(findCycles(graph).sort(), [['a', 'b', 'c'], ['d']]);
  });
});
