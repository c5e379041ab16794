// Bundles src/main.ts into dist/docker-proxy.cjs, and each optional vendor (yargs, pino,
// prom-client) into its own file under dist/vendor/, loaded only when used. One small file to
// compile is what keeps start-up and memory per proxy process small: dockerd starts one process
// per published port (bench/startup-memory.ts measures it; docs/design/node-facts.md §3).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
let commit = process.env.DOCKER_PROXY_BUILD_COMMIT || 'unknown';
if (commit === 'unknown') try {
  commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().trim() || commit;
} catch {
  // Not a git checkout (for example a tarball): the version line says "unknown".
}

/** Vendors that only some runs need: the main bundle requires ./vendor/<name>.cjs instead. */
const VENDORS = ['yargs', 'pino', 'prom-client'];

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
};

/** Resolves a vendor import to its separate file next to the bundle. */
const vendorsApart = {
  name: 'vendors-apart',
  setup(esbuild) {
    const filter = new RegExp(`^(${VENDORS.join('|')})$`);
    esbuild.onResolve({ filter }, (args) => ({ path: `./vendor/${args.path}.cjs`, external: true }));
  },
};

rmSync(`${root}dist`, { recursive: true, force: true });
const outfile = `${root}dist/docker-proxy.cjs`;
await build({
  ...common,
  entryPoints: [`${root}src/main.ts`],
  outfile,
  // import.meta.url has no value in a CJS bundle; give it the bundle's own URL so that
  // createRequire() and files next to the bundle (the native addon) resolve the same way
  // from dist/ as they do from src/ under tsx.
  banner: { js: "#!/usr/bin/env node\nconst __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: {
    'import.meta.url': '__importMetaUrl',
    __DOCKER_PROXY_VERSION__: JSON.stringify(pkg.version),
    __DOCKER_PROXY_COMMIT__: JSON.stringify(commit),
    __DOCKER_PROXY_ADDON_DIR__: JSON.stringify('../build/Release/'),
  },
  // The splice addon is a native file next to the bundle; it is loaded at run time.
  external: ['*.node'],
  plugins: [vendorsApart],
});
chmodSync(outfile, 0o755);
for (const vendor of VENDORS) {
  await build({ ...common, stdin: { contents: `module.exports = require(${JSON.stringify(vendor)});`, resolveDir: root },
    outfile: `${root}dist/vendor/${vendor}.cjs` });
}
