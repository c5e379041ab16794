// Lint: typescript-eslint's recommended rules, no escape hatches from the compiler, and each
// vendor behind one door (style guide rule 9).
import tseslint from 'typescript-eslint';

const door = (name, module) => ({ name, message: `import ${name} only in ${module}; use that module instead` });

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', '.cache/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/ban-ts-comment': 'error',
      'no-restricted-imports': ['error', {
        paths: [door('yargs', 'src/cli.ts'), door('pino', 'src/log.ts'), door('prom-client', 'src/metrics.ts')],
      }],
    },
  },
  { files: ['src/cli.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['src/log.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['src/metrics.ts'], rules: { 'no-restricted-imports': 'off' } },
  // prom-client's own Histogram is the oracle the tallied histograms are checked against.
  { files: ['test/unit/metrics.test.ts'], rules: { 'no-restricted-imports': 'off' } },
);
