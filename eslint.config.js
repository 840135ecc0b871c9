// Lint config. The layering rules are the point: they keep the engine runnable
// without Electron (tests, CLI, headless host) and the renderer runnable in any
// browser. See docs/architecture.md.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'release/**', 'renderer/dist/**', 'docs/**', 'test-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['main/engine/**', 'main/rendezvous/**', 'main/cli/**', 'main/host/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [{ name: 'electron', message: 'The engine, rendezvous, CLI and headless host run without Electron. Only main/app/ may import electron.' }],
      }],
    },
  },
  {
    files: ['renderer/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*'], message: 'The renderer runs in a browser sandbox: no Node built-ins.' },
          { group: ['**/main/**', '../main/*', '../../main/*'], message: 'The renderer talks to main only through the typed bridge in shared/ipc.' },
          { group: ['electron'], message: 'The renderer reaches Electron only through the preload bridge.' },
        ],
      }],
    },
  },
  {
    files: ['shared/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'electron', '**/main/**', '**/renderer/**'], message: 'shared/ is imported by every runtime: keep it free of runtime-specific imports.' },
        ],
      }],
    },
  },
);
