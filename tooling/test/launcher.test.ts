// The ./mmview launcher (bash) on a machine without a usable Node.js: run
// with a PATH of stand-ins for node, id, apt-get and apt-cache that record
// what they were asked to do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const LAUNCHER = resolve(import.meta.dirname, '../../mmview');
/** Real commands the launcher needs before it starts node. */
const REAL_COMMANDS = ['dirname', 'sed', 'head', 'cat'];

interface Machine {
  /** `node --version` of an installed node, or none. */
  node?: string;
  /** Candidate version apt-cache reports for nodejs. */
  aptCandidate: string;
  /** apt-get install nodejs really installs this node version. */
  installs?: string;
}

interface Outcome {
  status: number | null;
  stderr: string;
  aptCalls: string[];
}

function script(path: string, body: string): void {
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
}

function fakeNode(bin: string, version: string): void {
  const major = version.replace(/^v/, '').split('.')[0];
  script(join(bin, 'node'), `case "$*" in --version) echo ${version} ;; -e*) printf ${major} ;; *) exit 3 ;; esac`);
  script(join(bin, 'npm'), 'exit 0');
}

function runLauncher(machine: Machine): Outcome {
  const dir = mkdtempSync(join(tmpdir(), 'mmview-launcher-'));
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  copyFileSync(LAUNCHER, join(dir, 'mmview'));
  for (const c of REAL_COMMANDS) {
    const real = spawnSync('bash', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(real, join(bin, c));
  }
  const log = join(dir, 'apt.log');
  script(join(bin, 'id'), 'echo 0');
  script(join(bin, 'apt-cache'), `echo "nodejs:"; echo "  Installed: (none)"; echo "  Candidate: ${machine.aptCandidate}"`);
  const install = machine.installs ? `fakeinstall=1` : 'fakeinstall=0';
  script(
    join(bin, 'apt-get'),
    `echo "$*" >> ${log}
${install}
case "$*" in *install*nodejs*) if [ $fakeinstall = 1 ]; then ${installNodeSnippet(bin, machine.installs ?? '')}; fi ;; esac`,
  );
  if (machine.node) fakeNode(bin, machine.node);
  const r = spawnSync('/bin/bash', [join(dir, 'mmview'), 'test'], {
    encoding: 'utf8',
    env: { PATH: bin, HOME: dir },
    timeout: 20_000,
  });
  const aptCalls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: r.status, stderr: r.stderr, aptCalls };
}

/** Shell lines that put a stand-in node of this version into bin. */
function installNodeSnippet(bin: string, version: string): string {
  const major = version.replace(/^v/, '').split('.')[0];
  return `printf '#!/bin/bash\\ncase "$*" in --version) echo ${version} ;; -e*) printf ${major} ;; *) exit 3 ;; esac\\n' > ${bin}/node; /bin/chmod +x ${bin}/node`;
}

test('launcher: as root without node, Debian 12 nodejs 18 is refused before anything is installed', () => {
  const out = runLauncher({ aptCandidate: '18.20.4+dfsg-1~deb12u3', installs: 'v18.20.4' });
  assert.equal(out.status, 1);
  assert.deepEqual(out.aptCalls.filter((c) => c.includes('install')), [], `apt-get calls: ${out.aptCalls.join('; ')}`);
  const lines = out.stderr.trim().split('\n');
  assert.equal(lines.length, 1, out.stderr);
  assert.match(lines[0] ?? "", /Node\.js 20 or newer is required and apt offers nodejs 18; install Node\.js 20\+/);
});

test('launcher: as root without node, a nodejs 20 candidate is installed', () => {
  const out = runLauncher({ aptCandidate: '20.20.2-1nodesource1', installs: 'v20.20.2' });
  assert.ok(out.aptCalls.some((c) => /install .*nodejs/.test(c)), `apt-get calls: ${out.aptCalls.join('; ')}`);
  assert.match(out.stderr, /installing nodejs 20/, out.stderr);
  // The stand-in npm is missing, so the launcher goes on to install Debian's npm.
  assert.ok(out.aptCalls.some((c) => /install .*npm/.test(c)), `apt-get calls: ${out.aptCalls.join('; ')}; ${out.stderr}`);
});

test('launcher: an installed node 18 is refused with what to install instead', () => {
  const out = runLauncher({ node: 'v18.20.4', aptCandidate: '18.20.4' });
  assert.equal(out.status, 1);
  assert.deepEqual(out.aptCalls, []);
  assert.match(out.stderr, /^mmview: Node\.js 20 or newer is required, found v18\.20\.4; install Node\.js 20\+/);
});

test('launcher: an epoch in the candidate version is not its major version', () => {
  const out = runLauncher({ aptCandidate: '1:20.19.2-1', installs: 'v20.19.2' });
  assert.ok(out.aptCalls.some((c) => /install .*nodejs/.test(c)), `apt-get calls: ${out.aptCalls.join('; ')}; ${out.stderr}`);
  assert.match(out.stderr, /installing nodejs 20/);
});
