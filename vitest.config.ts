import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // e2e suites each start their own Prosody on free ports; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
