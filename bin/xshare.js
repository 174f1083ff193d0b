#!/usr/bin/env node
// `xshare`, the sharing client CLI (TypeScript sources; see launch.js for how they are run).
import { launch } from "./launch.js";

const { main } = await launch("client/cli.ts");
await main(process.argv);
