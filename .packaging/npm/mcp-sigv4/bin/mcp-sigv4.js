#!/usr/bin/env node
// Starts the mcp-sigv4 binary for this platform. npm installs it from the
// platform package listed in optionalDependencies whose "os" and "cpu" match
// (the esbuild/biome layout); this file only finds it and runs it with the
// same stdin, stdout and stderr (no bytes pass through Node), forwards
// SIGINT/SIGTERM/SIGHUP (on Windows only waits: see signalPlan), and exits
// with the binary's status.
// MCP_SIGV4_BINARY=/path/to/mcp-sigv4 overrides the lookup.
'use strict';
const { spawn } = require('child_process');

// `${process.platform} ${process.arch}` -> the package that carries the binary
// (https://nodejs.org/api/process.html#processplatform, #processarch; the same
// names as package.json's "os" and "cpu").
const PLATFORM_PACKAGES = {
  'linux x64': 'mcp-sigv4-linux-x64',
  'linux arm64': 'mcp-sigv4-linux-arm64',
  'darwin arm64': 'mcp-sigv4-darwin-arm64',
  'darwin x64': 'mcp-sigv4-darwin-x64',
  'win32 x64': 'mcp-sigv4-win32-x64',
  'win32 arm64': 'mcp-sigv4-win32-arm64',
};

// The package and the module path of the binary for a platform and CPU, or
// null when no binary is built for them.
function binaryFor(platform, arch) {
  const pkg = PLATFORM_PACKAGES[`${platform} ${arch}`];
  if (!pkg) return null;
  return { pkg, file: `${pkg}/bin/mcp-sigv4${platform === 'win32' ? '.exe' : ''}` };
}

function fail(message) {
  process.stderr.write(`mcp-sigv4 (npm): ${message}\n`);
  process.exit(1);
}

function binaryPath() {
  if (process.env.MCP_SIGV4_BINARY) return process.env.MCP_SIGV4_BINARY;
  const key = `${process.platform} ${process.arch}`;
  const found = binaryFor(process.platform, process.arch);
  if (!found) {
    fail(`no prebuilt binary for ${key} (built: ${Object.keys(PLATFORM_PACKAGES).join(', ')}); ` +
      'build it from source with `cargo install --locked --path .` in a checkout');
  }
  try {
    return require.resolve(found.file);
  } catch (e) {
    fail(`the platform package ${found.pkg} is not installed: npm installs it as an optional ` +
      'dependency, so an install with --omit=optional or --no-optional leaves it out');
  }
}

// What the launcher does with each signal on `platform`: `forward` is passed
// on to the binary, `wait` only keeps Node from exiting before the binary.
// On Windows the binary shares this console and gets Ctrl+C, Ctrl+Break and
// the window's close itself, as console control events, and ends gracefully;
// Node's kill() there is TerminateProcess
// (https://nodejs.org/api/process.html#signal-events), which would cut that
// short, so nothing is forwarded.
function signalPlan(platform) {
  if (platform === 'win32') return { forward: [], wait: ['SIGINT', 'SIGBREAK', 'SIGHUP'] };
  return { forward: ['SIGINT', 'SIGTERM', 'SIGHUP'], wait: [] };
}

function main() {
  const child = spawn(binaryPath(), process.argv.slice(2), { stdio: 'inherit', windowsHide: true });
  const plan = signalPlan(process.platform);
  const forwarded = plan.forward;
  for (const sig of forwarded) {
    process.on(sig, () => child.kill(sig));
  }
  for (const sig of plan.wait) {
    process.on(sig, () => {});
  }
  child.on('error', (e) => fail(`cannot start the binary: ${e.message}`));
  child.on('exit', (code, signal) => {
    if (signal) {
      // End the same way the binary did, so the MCP client sees the same status.
      for (const sig of forwarded) process.removeAllListeners(sig);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code === null ? 1 : code);
  });
}

if (require.main === module) main();
module.exports = { PLATFORM_PACKAGES, binaryFor, signalPlan };
