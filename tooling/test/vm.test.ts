import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedProbe, probeKvm } from '../src/vm/probe.ts';
import { runConsole } from '../src/vm/console.ts';
import { MarkerTracker } from '../src/results/markers.ts';

const dir = mkdtempSync(join(tmpdir(), 'mmview-vm-'));

/** A stand-in for qemu-system-*: a shell script. */
function fakeQemu(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

test('probeKvm: guest output means KVM works', async () => {
  const q = fakeQemu('ok', 'echo "qemu-system-x86_64: warning: something"; printf "[    0.000000] Linux version 6.12\\r\\n"; exec sleep 30');
  assert.deepEqual(await probeKvm(q, [], 5000), { ok: true, reason: 'the guest boots under KVM' });
});

test('probeKvm: QEMU failing names the first error', async () => {
  const q = fakeQemu('msr', 'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; echo "qemu: Assertion failed" >&2; exit 1');
  assert.deepEqual(await probeKvm(q, [], 5000), { ok: false, reason: 'QEMU with KVM failed (exit 1): failed to set MSR 0x10a to 0x69' });
});

test('probeKvm: no guest output in time', async () => {
  const q = fakeQemu('hang', 'exec sleep 30');
  assert.deepEqual(await probeKvm(q, [], 300), { ok: false, reason: 'no guest output within 0.3 s under KVM' });
});

test('cachedProbe probes once per key', async () => {
  const file = join(dir, 'probe.json');
  let n = 0;
  const probe = async () => ({ ok: (n++, false), reason: 'r' });
  assert.equal((await cachedProbe(file, 'k1', probe)).cached, false);
  assert.equal((await cachedProbe(file, 'k1', probe)).cached, true);
  assert.equal((await cachedProbe(file, 'k2', probe)).cached, false);
  assert.equal(n, 2);
});

test('runConsole: lines, log, exit', async () => {
  const q = fakeQemu('guest', 'printf "boot\\r\\nMMVIEW-BEGIN a\\r\\nok 1 x\\r\\nMMVIEW-END a 0\\r\\nMMVIEW-DONE\\r\\n"; exit 0');
  const t = new MarkerTracker();
  const log = join(dir, 'console.log');
  const r = await runConsole({ qemu: q, args: [], logFile: log, onLine: (l) => t.push(l), finished: () => t.done });
  assert.deepEqual(r.lines, ['boot', 'MMVIEW-BEGIN a', 'ok 1 x', 'MMVIEW-END a 0', 'MMVIEW-DONE']);
  assert.equal(r.exitCode, 0);
  assert.equal(r.timedOut, false);
  assert.equal(t.programs[0]?.status, 0);
  assert.match(readFileSync(log, 'utf8'), /MMVIEW-DONE/);
});

test('runConsole: a VM that does not power off after finishing is killed after the grace period', async () => {
  const q = fakeQemu('nopoweroff', 'echo MMVIEW-DONE; exec sleep 30');
  const t = new MarkerTracker();
  const r = await runConsole({ qemu: q, args: [], logFile: join(dir, 'c2.log'), onLine: (l) => t.push(l), finished: () => t.done, graceMs: 200 });
  assert.equal(r.killedAfterFinish, true);
  assert.equal(r.timedOut, false);
});

test('runConsole: timeout kills the VM', async () => {
  const q = fakeQemu('stuck', 'echo booting; exec sleep 30');
  const start = Date.now();
  const r = await runConsole({ qemu: q, args: [], logFile: join(dir, 'c3.log'), onLine: () => undefined, finished: () => false, timeoutMs: 300 });
  assert.equal(r.timedOut, true);
  assert.deepEqual(r.lines, ['booting']);
  assert.ok(Date.now() - start < 10_000);
});
