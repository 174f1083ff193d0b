#!/usr/bin/env -S node --initial-old-space-size=64
// `xshare-component`, the sharing manager (XEP-0114 component; TypeScript sources, see launch.js).
// The flag lets V8 start with a 64 MB old generation: with a ~10 MB heap, the garbage of HTTP
// reads triggered a full collection every 16-32 MB moved (bench:client, 1 GiB upload:
// component CPU 3.3 -> 2.8 s, same peak RSS). `node bin/xshare-component.js` runs without it.
import { launch } from "./launch.js";

const { main } = await launch("component/cli.ts");
await main(process.argv);
