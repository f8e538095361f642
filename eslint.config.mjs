// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The client libraries of Kafka, the registry, PostgreSQL and Redis. */
const DRIVERS = ['kafkajs', 'knex', 'pg', 'ioredis', 'avsc', '@kafkajs/*'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.stack/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // The domain imports no driver: it must stay pure so it can be unit-tested and reused.
    files: ['shared/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [...DRIVERS, '../adapters/*', '../runtime/*', '**/workers/**'] }],
    },
  },
  {
    // Workers are leaves: what several of them (or the exporter, the scripts) need lives in shared/.
    files: ['shared/**/*.ts', 'exporter/**/*.ts', 'scripts/**/*.ts', 'migrations/**/*.ts'],
    ignores: ['shared/domain/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/workers/**'] }] },
  },
  {
    // A worker's core is its logic: it reaches the services only through the adapters (or ports)
    // main.ts hands it, never through a driver of its own.
    files: ['workers/*/core.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: DRIVERS }] },
  },
  {
    // The ingest core (the hot path) goes further: only the ports main.ts wires, not even an adapter.
    files: ['workers/ingest/core.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...DRIVERS, '**/adapters/**'] }] },
  },
);
