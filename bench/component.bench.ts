/**
 * Benchmarks of the sharing manager (component/), run with `npm run bench:component`. Each part
 * lives in its own module so that it can also run alone; this file runs them in order and always
 * exits 0. Parts: commits through the whole stack (bench/commits.bench.ts, XEP-draft.md § 5.8,
 * § 5.11) and HTTP chunk transfer (bench/chunks-http.bench.ts, § 5.9).
 */
import { runChunksHttpBench } from "./chunks-http.bench.ts";
import { runCommitsBench } from "./commits.bench.ts";

await runCommitsBench().catch((err: unknown) => console.error("commits bench failed:", err));
console.log("");
await runChunksHttpBench().catch((err: unknown) => console.error("chunks-http bench failed:", err));
