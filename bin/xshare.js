#!/usr/bin/env node
// `xshare`, the sharing client CLI. The sources are TypeScript run through tsx (no build step):
// register tsx's loader first, then import the CLI dynamically (a static import would be resolved
// before register() runs).
import { register } from "tsx/esm/api";

register();
const { main } = await import("../client/cli.ts");
await main(process.argv);
