import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'rules/**/*.test.ts'],
    // oclif writes through process.stdout; vitest's console interception would swallow it.
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share real servers; files run one at a time to keep them from disturbing each other's counters.
    fileParallelism: false,
  },
})
