// Builds the N-API addon from source with node-gyp against the headers of the Node running this
// script (never downloading headers). Run by the package's `install` and `build` scripts.
//
// Where the addon cannot be built (not Linux, no compiler/make/python, no Node headers) this prints
// one line, records the reason in build/unavailable.txt for the JS layer (available() === false,
// unavailableReason()) and exits 0 so the workspace still installs. A build that starts and then
// fails is a real error and exits non-zero.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Packages may not use console; this script writes its lines to stdout/stderr directly.
const say = (line) => process.stdout.write(`${line}\n`);
const complain = (line) => process.stderr.write(`${line}\n`);

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(pkgDir, 'build');
const reasonFile = join(buildDir, 'unavailable.txt');

function skip(reason) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(reasonFile, `${reason}\n`);
  say(`@weft/linux-net: addon not built: ${reason}`);
  process.exit(0);
}

function onPath(cmd) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

if (process.platform !== 'linux') skip(`Linux only (this is ${process.platform})`);

// The prefix of the running Node: /usr for /usr/bin/node. WEFT_NODEDIR overrides it (a Node
// installed elsewhere, or this script run by another runtime).
const nodedir = process.env.WEFT_NODEDIR ?? dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h'))) {
  skip(
    `no Node headers at ${join(nodedir, 'include', 'node')} (install the Node development headers or set WEFT_NODEDIR)`,
  );
}
if (!existsSync(join(nodedir, 'include', 'node', 'common.gypi'))) {
  skip(`no common.gypi in ${join(nodedir, 'include', 'node')} (node-gyp needs it)`);
}
const nodeGyp = join(pkgDir, 'node_modules', '.bin', 'node-gyp');
if (!existsSync(nodeGyp)) skip(`node-gyp is not installed at ${nodeGyp}`);
const missing = [['cc', 'gcc', 'clang'], ['make'], ['python3', 'python']]
  .filter((alts) => !alts.some(onPath))
  .map((alts) => alts[0]);
if (missing.length > 0) skip(`build tools missing: ${missing.join(', ')}`);

rmSync(reasonFile, { force: true });
const res = spawnSync(nodeGyp, ['rebuild', `--nodedir=${nodedir}`], { cwd: pkgDir, stdio: 'inherit' });
if (res.error) {
  complain(`@weft/linux-net: cannot run node-gyp: ${res.error.message}`);
  process.exit(1);
}
if (res.status !== 0) {
  complain(`@weft/linux-net: node-gyp rebuild failed (exit ${res.status ?? res.signal})`);
  process.exit(res.status ?? 1);
}
