import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundToParent, findSetpriv } from '../src/vm/lifetime.ts';
import { probeKvm } from '../src/vm/probe.ts';

const VM_DIR = join(import.meta.dirname, '..', 'src', 'vm');
const dir = mkdtempSync(join(tmpdir(), 'mmview-lifetime-'));
const NO_SETPRIV = findSetpriv() === undefined ? 'no setpriv on this host' : false;

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

test('probeKvm names a missing QEMU, under setpriv or not', async () => {
  const r = await probeKvm('/nonexistent/qemu-system-x86_64', [], 10_000);
  assert.equal(r.ok, false);
  assert.match(r.reason, /\/nonexistent\/qemu-system-x86_64/);
});

/** The entry points that start QEMU; each test's tool calls one of them for real. */
type Starter = 'runConsole' | 'runInteractive' | 'probeKvm';

/**
 * The body of a stand-in tool that starts its "VM" through `starter`, the
 * code path ./mmview run/test/bench take. The VM is `sh`, which writes its pid
 * (the one QEMU would have: setpriv execs it) to `pidFile` and becomes `sleep 300`.
 */
function toolScript(starter: Starter, pidFile: string): string {
  const vm = ['-c', 'echo $$ > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 300', pidFile];
  const call: Record<Starter, string> = {
    runConsole: `(await import(${JSON.stringify(join(VM_DIR, 'console.ts'))})).runConsole({
      qemu: 'sh', args: ${JSON.stringify(vm)}, logFile: ${JSON.stringify(`${pidFile}.log`)},
      onLine: () => undefined, finished: () => false })`,
    runInteractive: `(await import(${JSON.stringify(join(VM_DIR, 'console.ts'))})).runInteractive('sh', ${JSON.stringify(vm)})`,
    probeKvm: `(await import(${JSON.stringify(join(VM_DIR, 'probe.ts'))})).probeKvm('sh', ${JSON.stringify(vm)}, 600_000)`,
  };
  // Exits 0 only if the VM ended on its own, which these tests never let happen.
  return `await ${call[starter]};`;
}

interface Tool {
  tool: ChildProcess;
  exited: Promise<number | null>;
  vmPid: number;
}

let runs = 0;

/** Start a stand-in tool and wait until its VM runs. */
async function startTool(starter: Starter): Promise<Tool> {
  const pidFile = join(dir, `vm-${starter}-${++runs}.pid`);
  const tool = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', toolScript(starter, pidFile)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((r) => tool.once('exit', (code) => r(code)));
  const end = Date.now() + 30_000;
  while (!existsSync(pidFile)) {
    if (Date.now() > end || tool.exitCode !== null || tool.signalCode !== null) {
      tool.kill('SIGKILL');
      assert.fail(`${starter}: the VM did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { tool, exited, vmPid: Number(readFileSync(pidFile, 'utf8').trim()) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by the init that inherited it) is gone too.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
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

/** Don't leave a `sleep 300` behind when an assertion fails. */
function cleanUp(t: Tool): void {
  for (const pid of [t.vmPid, t.tool.pid]) {
    try {
      if (pid !== undefined && pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

const STARTERS: readonly Starter[] = ['runConsole', 'runInteractive', 'probeKvm'];

for (const starter of STARTERS) {
  test(`${starter}: SIGTERM to the tool kills its VM and exits 143`, async () => {
    const t = await startTool(starter);
    try {
      assert.ok(t.vmPid > 0 && alive(t.vmPid));
      t.tool.kill('SIGTERM');
      assert.equal(await t.exited, 143);
      assert.ok(await gone(t.vmPid, 10_000), `VM ${t.vmPid} outlived the tool`);
    } finally {
      cleanUp(t);
    }
  });

  test(`${starter}: the VM dies with the tool even when the tool is SIGKILLed`, { skip: NO_SETPRIV }, async () => {
    const t = await startTool(starter);
    try {
      assert.ok(alive(t.vmPid));
      t.tool.kill('SIGKILL');
      await t.exited;
      assert.ok(await gone(t.vmPid, 10_000), `VM ${t.vmPid} outlived the killed tool`);
    } finally {
      cleanUp(t);
    }
  });
}

test('runConsole: SIGINT to the tool kills its VM and exits 130', async () => {
  const t = await startTool('runConsole');
  try {
    t.tool.kill('SIGINT');
    assert.equal(await t.exited, 130);
    assert.ok(await gone(t.vmPid, 10_000), `VM ${t.vmPid} outlived the tool`);
  } finally {
    cleanUp(t);
  }
});

test('runInteractive: SIGINT belongs to the guest and kills neither the tool nor the VM', async () => {
  const t = await startTool('runInteractive');
  try {
    t.tool.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(t.tool.exitCode, null, 'the tool exited on SIGINT');
    assert.ok(alive(t.vmPid), 'the VM died on SIGINT');
    t.tool.kill('SIGTERM');
    assert.equal(await t.exited, 143);
    assert.ok(await gone(t.vmPid, 10_000), `VM ${t.vmPid} outlived the tool`);
  } finally {
    cleanUp(t);
  }
});
