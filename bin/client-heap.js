// How V8 sizes the client's heap; imported first by bin/xshare.js, and by the benchmark
// children (bench/fixtures/run.js) so that their memory is the product's.
//
// After each full collection V8 lets the old generation grow to a multiple of what survived
// (up to 4x for small heaps) before collecting again. The client allocates far more than it
// keeps: a first push of 10,000 files allocates ~330 MB (stat results, commit XML, hashes)
// for ~20 MB live, much of it promoted out of the small young generation (see the shebang of
// bin/xshare.js). Growing by 30% instead keeps the heap nearer what is live
// (npm run bench:client, first push of 10,000 files: largest JS heap 72 -> 43-63 MB, peak RSS
// 169 -> 145-159 MB; the spread is when the collector happens to run during the scan), for a
// few more full collections of a heap that is small.
// Set at run time rather than in the shebang: an unknown flag here is reported, not fatal.
import { setFlagsFromString } from "node:v8";

setFlagsFromString("--heap-growing-percent=30");
