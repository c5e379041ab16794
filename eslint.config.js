// Lint: typescript-eslint's recommended rules, no escape hatches from the compiler, each vendor and
// each native addon behind one door, and the folder boundaries of src/ (docs/design/layout.md).
// Import cycles, which lint cannot see across files, are scripts/check-imports.ts's job.
// test/unit/lint/boundaries.test.ts checks that a probe file breaking each rule fails.
import tseslint from 'typescript-eslint';

/** Each vendor and the one file that may import it. */
const DOORS = { yargs: 'src/cli/typing.ts', pino: 'src/log.ts', 'prom-client': 'src/metrics/registry.ts' };
const ADDON_LOADER = 'src/proxy/addon.ts';

const doorMessage = (name) => `import ${name} only in ${DOORS[name]}; use that module instead`;

/** The static form of the doors, plus any extra patterns a folder adds. */
function restrictedImports(except, patterns = []) {
  const paths = Object.keys(DOORS).filter((name) => name !== except).map((name) => ({ name, message: doorMessage(name) }));
  return ['error', { paths, patterns }];
}

/** The data plane (src/proxy/) serves whoever runs it: it knows nothing of the CLI, the metrics or the process. */
const DATA_PLANE_PATTERNS = [{
  regex: '(^|/)(cli|metrics)/|(^|/)(supervisor|service|main|status-pipe)\\.(js|ts)$',
  message: 'the data plane (src/proxy/) may not import cli/, metrics/ or the process (supervisor, service, main, status-pipe); put the shared type in src/proxy/contract.ts',
}];

/** What import() and require may not do: reach a vendor outside its door, or load an addon. */
function restrictedSyntax(except, addonLoader = false, dataPlane = false) {
  const vendors = Object.keys(DOORS).filter((name) => name !== except);
  const rules = [
    ...vendors.map((name) => ({ selector: `ImportExpression[source.value='${name}']`, message: doorMessage(name) })),
    // A computed specifier could name anything, a vendor included: every import() names its module.
    { selector: 'ImportExpression:not([source.type="Literal"])', message: 'import() takes a literal module name, so that lint can check it' },
  ];
  // no-restricted-imports does not look at import(): the folder rule again, for dynamic imports.
  if (dataPlane) rules.push(...DATA_PLANE_PATTERNS.map(({ regex, message }) => ({ selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\/')}/]`, message })));
  if (!addonLoader) {
    rules.push(
      { selector: "ImportSpecifier[imported.name='createRequire']", message: `only ${ADDON_LOADER} loads native addons (createRequire)` },
      { selector: "CallExpression[callee.name='require'][arguments.0.value=/\\.node$/]", message: `only ${ADDON_LOADER} loads native addons (require of a .node file)` },
      { selector: "MemberExpression[object.name='process'][property.name='dlopen']", message: `only ${ADDON_LOADER} loads native addons (process.dlopen)` },
    );
  }
  return ['error', ...rules];
}

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', '.cache/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      'no-restricted-imports': restrictedImports(),
      'no-restricted-syntax': restrictedSyntax(),
    },
  },
  { files: [DOORS.yargs], rules: { 'no-restricted-imports': restrictedImports('yargs'), 'no-restricted-syntax': restrictedSyntax('yargs') } },
  { files: [DOORS.pino], rules: { 'no-restricted-imports': restrictedImports('pino'), 'no-restricted-syntax': restrictedSyntax('pino') } },
  { files: [DOORS['prom-client']], rules: { 'no-restricted-imports': restrictedImports('prom-client'), 'no-restricted-syntax': restrictedSyntax('prom-client') } },
  { files: ['src/proxy/**/*.ts'], rules: { 'no-restricted-imports': restrictedImports(undefined, DATA_PLANE_PATTERNS), 'no-restricted-syntax': restrictedSyntax(undefined, false, true) } },
  { files: [ADDON_LOADER], rules: { 'no-restricted-syntax': restrictedSyntax(undefined, true, true) } },
  // The addons' own tests call their raw exports (bad arguments, exact errors), past the loader.
  { files: ['test/unit/proxy/**/*.ts'], rules: { 'no-restricted-syntax': restrictedSyntax(undefined, true) } },
  // prom-client's own Histogram is the oracle the tallied histograms are checked against.
  { files: ['test/unit/metrics/registry.test.ts'], rules: { 'no-restricted-imports': restrictedImports('prom-client'), 'no-restricted-syntax': restrictedSyntax('prom-client') } },
  // The build script bundles the vendors; node's own scripts may require.
  { files: ['scripts/**', '*.js', '*.mjs'], rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' } },
);
