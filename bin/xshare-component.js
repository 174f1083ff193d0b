#!/usr/bin/env node
// `xshare-component`, the sharing manager (XEP-0114 component; TypeScript sources, see launch.js).
import { launch } from "./launch.js";

const { main } = await launch("component/cli.ts");
await main(process.argv);
