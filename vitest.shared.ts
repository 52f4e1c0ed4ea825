// Shared vitest settings: every package resolves workspace dependencies to their TypeScript
// source through the `weft-source` export condition, so tests never need a prior build.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['weft-source'] },
  ssr: { resolve: { conditions: ['weft-source'], externalConditions: ['weft-source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
