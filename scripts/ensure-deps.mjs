#!/usr/bin/env node
// Bootstrap for `npm test` and `npm run demo` on a fresh clone. Plain Node, built-ins only: it runs
// before node_modules exists.
//
//  1. node_modules is installed with `npm ci` when missing or stale. Stale = the stamp
//     node_modules/.xshare-stamp does not match the SHA-256 of package-lock.json plus the Node ABI
//     (better-sqlite3 is a native module built for one ABI).
//  2. Debian's Prosody (the e2e tests' and the demo's server) is installed with apt when
//     /usr/bin/prosody is missing and we are root; otherwise we say what to run and exit 1.
//     Debian's postinst would start a system Prosody on the standard ports with /etc/prosody's
//     config; we keep it from starting (policy-rc.d) and stop it if it started anyway. A system
//     Prosody must never be left running: the tests use Prosody only with their own config.
//  3. Debian's Chromium (the UI tests' browser, driven by playwright-core, which never downloads
//     one): installed with apt when /usr/bin/chromium is missing and we are root, else we say
//     what to run and exit 1.
//  4. With --syncthing (`npm run bench`, which compares with it): Debian's syncthing, the same
//     way (installed as root, else what to run). Its package starts no service.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const LOCK = path.join(ROOT, "package-lock.json");
const MODULES = path.join(ROOT, "node_modules");
const STAMP = path.join(MODULES, ".xshare-stamp");
const PROSODY = "/usr/bin/prosody";
const PROSODYCTL = "/usr/bin/prosodyctl";
const SYNCTHING = "/usr/bin/syncthing";
const CHROMIUM = "/usr/bin/chromium";
const POLICY_RC = "/usr/sbin/policy-rc.d";

function say(message) {
  process.stderr.write(`ensure-deps: ${message}\n`);
}

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: "inherit", cwd: ROOT, ...options });
  if (result.error) fail(`ensure-deps: cannot run ${command}: ${result.error.message}`);
  return result.status ?? 1;
}

// ---------------------------------------------------------------- Node and node_modules

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`Node ${process.versions.node} is too old: xmpp-share needs Node >= 20.19 (see package.json engines)`);
  }
}

function wantedStamp() {
  const lock = readFileSync(LOCK);
  const hash = createHash("sha256").update(lock).digest("hex");
  return `${hash} node-abi-${process.versions.modules}\n`;
}

function ensureNodeModules() {
  if (!existsSync(LOCK)) fail("ensure-deps: package-lock.json is missing; cannot install reproducibly");
  const wanted = wantedStamp();
  const current = existsSync(STAMP) ? readFileSync(STAMP, "utf8") : "";
  if (current === wanted && existsSync(path.join(MODULES, ".bin"))) return;

  say(existsSync(MODULES) ? "node_modules is stale, running npm ci" : "no node_modules, running npm ci");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  if (run(npm, ["ci", "--no-audit", "--no-fund"]) !== 0) fail("ensure-deps: npm ci failed (see above)");
  writeFileSync(STAMP, wanted);
}

// ---------------------------------------------------------------- Prosody

function isRoot() {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PIDs of Prosody processes running on the system configuration (no --config argument). */
function systemProsodyPids() {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv;
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // exited meanwhile
    }
    if (argv.some((arg) => arg === PROSODY || arg.endsWith("/bin/prosody")) && !argv.includes("--config")) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

async function stopSystemProsody() {
  if (existsSync("/run/systemd/system")) {
    // Installed units start at boot too; keep the system service off entirely.
    run("systemctl", ["disable", "--now", "prosody"], { stdio: "ignore" });
  }
  if (systemProsodyPids().length > 0) run(PROSODYCTL, ["stop"], { stdio: "ignore" });
  for (let i = 0; i < 50; i++) {
    const pids = systemProsodyPids();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, i < 30 ? "SIGTERM" : "SIGKILL");
      } catch {
        // gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const left = systemProsodyPids().filter(alive);
  if (left.length > 0) fail(`ensure-deps: a system Prosody is still running (pid ${left.join(", ")}); stop it before testing`);
}

async function ensureProsody() {
  if (existsSync(PROSODY) && existsSync(PROSODYCTL)) return;
  if (!isRoot()) fail("prosody is missing: run  sudo apt-get install prosody");

  say("installing Debian's prosody package (apt-get)");
  // policy-rc.d exit 101 = "action forbidden": invoke-rc.d/deb-systemd-invoke then skip starting
  // the service from the package's postinst. Only ours if we created it.
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) {
    writeFileSync(POLICY_RC, "#!/bin/sh\n# written by xmpp-share scripts/ensure-deps.mjs during apt-get install\nexit 101\n");
    chmodSync(POLICY_RC, 0o755);
  }
  let status;
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    status = run("apt-get", ["update"], { env });
    if (status === 0) status = run("apt-get", ["install", "-y", "prosody"], { env });
  } finally {
    if (ownPolicy) rmSync(POLICY_RC, { force: true });
  }
  await stopSystemProsody();
  if (status !== 0 || !existsSync(PROSODY)) fail("ensure-deps: apt-get install prosody failed (see above)");
  say("prosody installed; the system service is stopped (tests run their own instances)");
}

/** Installs a Debian package that starts no service (apt-get update first only if needed). */
function aptInstall(pkg, binary, why) {
  if (existsSync(binary)) return;
  if (!isRoot()) fail(`${pkg} is missing (${why}): run  sudo apt-get install ${pkg}`);
  say(`installing Debian's ${pkg} package (apt-get), for ${why}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let status = run("apt-get", ["install", "-y", pkg], { env });
  if (status !== 0) {
    status = run("apt-get", ["update"], { env });
    if (status === 0) status = run("apt-get", ["install", "-y", pkg], { env });
  }
  if (status !== 0 || !existsSync(binary)) fail(`ensure-deps: apt-get install ${pkg} failed (see above)`);
}

checkNode();
ensureNodeModules();
await ensureProsody();
if (!process.argv.includes("--no-browser")) aptInstall("chromium", CHROMIUM, "the UI tests, which drive it");
if (process.argv.includes("--syncthing")) aptInstall("syncthing", SYNCTHING, "npm run bench, which compares with it");
