import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boundToParent, findSetpriv } from '../src/vm/lifetime.ts';

const LIFETIME = join(import.meta.dirname, '..', 'src', 'vm', 'lifetime.ts');

test('boundToParent wraps the command in setpriv --pdeathsig KILL', () => {
  assert.deepEqual(boundToParent('qemu', ['-m', '2G'], '/usr/bin/setpriv'), {
    cmd: '/usr/bin/setpriv',
    args: ['--pdeathsig', 'KILL', '--', 'qemu', '-m', '2G'],
  });
});

test('boundToParent leaves the command alone without setpriv', () => {
  assert.deepEqual(boundToParent('qemu', ['-m', '2G'], undefined), { cmd: 'qemu', args: ['-m', '2G'] });
});

test('findSetpriv finds none among missing paths', () => {
  assert.equal(findSetpriv(['/nonexistent/setpriv']), undefined);
});

/** A node process that starts `sleep 300` like the tool starts QEMU and prints its pid. */
function startParent(): Promise<{ parent: ReturnType<typeof spawn>; childPid: number }> {
  const script = `
    import { spawn } from 'node:child_process';
    import { boundToParent, findSetpriv, killChildOnSignals } from ${JSON.stringify(LIFETIME)};
    const b = boundToParent('sleep', ['300'], findSetpriv());
    const child = spawn(b.cmd, b.args, { stdio: 'ignore' });
    killChildOnSignals(child);
    child.on('spawn', () => console.log(child.pid));
    setInterval(() => undefined, 1000);
  `;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    parent.stdout!.once('data', (d: Buffer) => resolve({ parent, childPid: Number(d.toString().trim()) }));
    parent.once('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
  } catch {
    return false;
  }
}

function readStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 'State: Z';
  }
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

test('SIGTERM to the tool kills its VM and exits 143', async () => {
  const { parent, childPid } = await startParent();
  assert.ok(childPid > 0 && alive(childPid));
  const exited = new Promise<number | null>((r) => parent.once('exit', (code) => r(code)));
  parent.kill('SIGTERM');
  assert.equal(await exited, 143);
  assert.ok(await gone(childPid, 5000), `child ${childPid} outlived the tool`);
});

test('the VM dies with the tool even when the tool is SIGKILLed', { skip: findSetpriv() === undefined ? 'no setpriv on this host' : false }, async () => {
  const { parent, childPid } = await startParent();
  assert.ok(alive(childPid));
  parent.kill('SIGKILL');
  assert.ok(await gone(childPid, 5000), `child ${childPid} outlived the killed tool`);
});
