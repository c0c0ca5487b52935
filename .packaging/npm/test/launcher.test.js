// The npm launcher's choice of binary for every os/cpu, and the packages'
// agreement with it: run with `node --test .packaging/npm/test/` (node's own
// test runner, https://nodejs.org/api/test.html; no dependencies).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const npmDir = path.join(__dirname, '..');
const launcherPath = path.join(npmDir, 'mcp-sigv4', 'bin', 'mcp-sigv4.js');
const { PLATFORM_PACKAGES, binaryFor, signalPlan } = require(launcherPath);
const readJson = (...p) => JSON.parse(fs.readFileSync(path.join(npmDir, ...p), 'utf8'));
const launcher = readJson('mcp-sigv4', 'package.json');

// Every platform a release ships, as Node names it, and what the launcher must start there.
const EXPECTED = [
  ['linux', 'x64', 'mcp-sigv4-linux-x64/bin/mcp-sigv4'],
  ['linux', 'arm64', 'mcp-sigv4-linux-arm64/bin/mcp-sigv4'],
  ['darwin', 'arm64', 'mcp-sigv4-darwin-arm64/bin/mcp-sigv4'],
  ['darwin', 'x64', 'mcp-sigv4-darwin-x64/bin/mcp-sigv4'],
  ['win32', 'x64', 'mcp-sigv4-win32-x64/bin/mcp-sigv4.exe'],
  ['win32', 'arm64', 'mcp-sigv4-win32-arm64/bin/mcp-sigv4.exe'],
];

for (const [platform, arch, file] of EXPECTED) {
  test(`${platform} ${arch} starts ${file}`, () => {
    assert.deepEqual(binaryFor(platform, arch), { pkg: file.split('/')[0], file });
  });
}

test('platforms without a binary get none (the launcher then says what is built)', () => {
  for (const [platform, arch] of [['linux', 'ia32'], ['freebsd', 'x64'],
    ['linux', 'arm'], ['darwin', 'ppc64'], ['win32', 'ia32'], ['android', 'arm64']]) {
    assert.equal(binaryFor(platform, arch), null, `${platform} ${arch}`);
  }
});

test('the launcher lists exactly the platform packages as optional dependencies, at its version', () => {
  const pkgs = Object.values(PLATFORM_PACKAGES).sort();
  assert.deepEqual(pkgs, EXPECTED.map(([, , f]) => f.split('/')[0]).sort());
  assert.deepEqual(Object.keys(launcher.optionalDependencies).sort(), pkgs);
  for (const v of Object.values(launcher.optionalDependencies)) assert.equal(v, launcher.version);
});

test("each platform package's os and cpu are the ones the launcher maps to it, and it ships the binary", () => {
  for (const [platform, arch, file] of EXPECTED) {
    const pkg = file.split('/')[0];
    const json = readJson(pkg, 'package.json');
    assert.equal(json.name, pkg);
    assert.equal(json.version, launcher.version, pkg);
    assert.deepEqual(json.os, [platform], pkg);
    assert.deepEqual(json.cpu, [arch], pkg);
    assert.ok(json.files.includes(file.slice(pkg.length + 1)), `${pkg} files: ${json.files}`);
    assert.match(fs.readFileSync(path.join(npmDir, pkg, 'README.md'), 'utf8'), new RegExp(`^# ${pkg}\n`));
  }
});

test('a platform package no launcher maps is not left in the folder', () => {
  const dirs = fs.readdirSync(npmDir).filter((d) => d.startsWith('mcp-sigv4-'));
  assert.deepEqual(dirs.sort(), Object.values(PLATFORM_PACKAGES).sort());
});

// The launcher run as npm runs it, with MCP_SIGV4_BINARY pointing at a stand-in.
test('runs the binary with the arguments and inherited stdio, and exits with its status', () => {
  // node itself as the binary, told by the arguments to copy stdin to stdout and exit 7.
  const ok = spawnSync(process.execPath, [launcherPath, '-e',
    'process.stdin.pipe(process.stdout); process.stdin.on("end", () => process.exit(7))'], {
    input: 'through the binary\n',
    env: { ...process.env, MCP_SIGV4_BINARY: process.execPath },
    encoding: 'utf8',
  });
  assert.equal(ok.stdout, 'through the binary\n');
  assert.equal(ok.status, 7);
});

test('without its platform package installed, it says which one and why, and exits 1', () => {
  const found = binaryFor(process.platform, process.arch);
  const env = { ...process.env };
  delete env.MCP_SIGV4_BINARY;
  const r = spawnSync(process.execPath, [launcherPath, '--version'], { env, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  if (found) {
    assert.match(r.stderr, new RegExp(`the platform package ${found.pkg} is not installed`));
  } else {
    assert.match(r.stderr, /no prebuilt binary for/);
  }
});

// On Windows, Node's kill() is TerminateProcess: forwarding Ctrl+C would end
// the binary before its graceful end, which its own console handler starts.
test('on Windows no signal is forwarded, and Ctrl+C, Ctrl+Break and close only wait', () => {
  assert.deepEqual(signalPlan('win32'), { forward: [], wait: ['SIGINT', 'SIGBREAK', 'SIGHUP'] });
});
for (const platform of ['linux', 'darwin']) {
  test(`on ${platform} SIGINT, SIGTERM and SIGHUP are forwarded`, () => {
    assert.deepEqual(signalPlan(platform), { forward: ['SIGINT', 'SIGTERM', 'SIGHUP'], wait: [] });
  });
}
