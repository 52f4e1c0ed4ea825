// The netns tier: real network namespaces, links and iptables rules of one cluster; one file at a time.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test-netns/**/*.e2e.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
