#!/usr/bin/env -S node --max-semi-space-size=1 --initial-old-space-size=32
// `xshare`, the sharing client CLI (TypeScript sources; see launch.js for how they are run).
// --max-semi-space-size=1 keeps V8's young generation small: the client allocates many
// short-lived objects (index entries, chunk buffers) and a large young generation only makes it
// hold more memory between collections (bench:client: peak RSS 206 -> 170 MB for 10,000 files,
// same times).
// --initial-old-space-size=32 lets the old generation reach 32 MB before V8 first collects it:
// with a ~14 MB heap, a daemon receiving a 1 GiB file ran a full mark-compact every ~50 ms
// (146-155 of them, 2-8 with the flag, in four runs with --trace-gc; GC 1.7-2.2 CPU-s of its
// one busy thread in its profile), and `npm run bench` scenario 3 went from 14.3 to 12.4 s
// (Syncthing 9.7 and 8.9 s in the same runs), for peaks of +2-11 MB in scenarios 2 and 3
// (idle: the same).
// Both apply when the program is run as `xshare`; `node bin/xshare.js` runs without them.
// Not used: --heap-growing-percent=30 cuts that push's peak to ~150 MB, but V8 then collects
// so often during a large download that a 1 GiB pull takes 0.9 s more (GC 0.13 -> 0.8 CPU-s).
import { launch } from "./launch.js";

const { main } = await launch("client/cli.ts");
await main(process.argv);
