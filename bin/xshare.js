#!/usr/bin/env -S node --max-semi-space-size=1
// `xshare`, the sharing client CLI (TypeScript sources; see launch.js for how they are run).
// The flag keeps V8's young generation small: the client allocates many short-lived objects
// (index entries, chunk buffers) and a large young generation only makes it hold more memory
// between collections (bench:client: peak RSS 206 -> 170 MB for 10,000 files, same times).
// It applies when the program is run as `xshare`; `node bin/xshare.js` runs without it.
// Not used: --heap-growing-percent=30 cuts that push's peak to ~150 MB, but V8 then collects
// so often during a large download that a 1 GiB pull takes 0.9 s more (GC 0.13 -> 0.8 CPU-s).
import { launch } from "./launch.js";

const { main } = await launch("client/cli.ts");
await main(process.argv);
