// Bundles src/main.ts into one CommonJS file: one file to load is what keeps start-up and
// memory per proxy process small (see ../shared/docs/node-notes.md §3).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
let commit = process.env.DOCKER_PROXY_BUILD_COMMIT || 'unknown';
if (commit === 'unknown') try {
  commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().trim() || commit;
} catch {
  // Not a git checkout (for example a tarball): the version line says "unknown".
}

const outfile = new URL('../dist/docker-proxy.cjs', import.meta.url).pathname;
await build({
  entryPoints: [new URL('../src/main.ts', import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  // import.meta.url has no value in a CJS bundle; give it the bundle's own URL so that
  // createRequire() and files next to the bundle (the native addon) resolve the same way
  // from dist/ as they do from src/ under tsx.
  banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: {
    'import.meta.url': '__importMetaUrl',
    __DOCKER_PROXY_VERSION__: JSON.stringify(pkg.version),
    __DOCKER_PROXY_COMMIT__: JSON.stringify(commit),
  },
  // The splice addon is a native file next to the bundle; it is loaded at run time.
  external: ['*.node'],
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
