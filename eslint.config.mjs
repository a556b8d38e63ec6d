// npm run lint: typescript-eslint with type information (the rules that need the checker:
// floating and misused promises, unnecessary assertions, …) over the TypeScript of every
// process and the tests. Plain JS (bin/, scripts/, webpack.config.js) gets the JS set only.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Node's globals for the plain JS files (no `globals` package for a dozen names).
const NODE_GLOBALS = Object.fromEntries(
  [
    'global',
    'process',
    'console',
    'Buffer',
    'URL',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'performance',
    'structuredClone',
  ]
    .map((n) => [n, 'readonly'])
    .concat([
      ['require', 'readonly'],
      ['module', 'writable'],
      ['exports', 'writable'],
      ['__dirname', 'readonly'],
      ['__filename', 'readonly'],
    ]),
);

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'build/', 'node_modules/', 'examples/', 'scratch/', 'test/fixtures/'] },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: NODE_GLOBALS },
  },
  { files: ['**/*.js', '**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Async methods that implement an async interface (Target, the CLI's commands) without
      // awaiting anything themselves: all 13 findings were that.
      '@typescript-eslint/require-await': 'off',
      // Values decoded from JSON, ELF and the wire are `any` at their edge and checked by
      // hand; the no-unsafe-* family flagged 463 such uses (286 member accesses): off.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  // The target validators refuse control characters in hostile host and user names on purpose.
  { files: ['server/src/remote/ssh.ts'], rules: { 'no-control-regex': 'off' } },
);
