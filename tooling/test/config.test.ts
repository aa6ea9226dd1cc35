import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configHash, formatMismatches, judgeMismatches, mergeFragments, parseConfig, verifyConfig } from '../src/config/fragments.ts';
import { fragmentNames } from '../src/config/configure.ts';
import { archSpec } from '../src/arch.ts';

test('parseConfig reads set, =n and "is not set" lines', () => {
  const v = parseConfig(['# comment', 'CONFIG_A=y', 'CONFIG_B=n', '# CONFIG_C is not set', 'CONFIG_D="x y"', 'CONFIG_E=16000', '', 'junk'].join('\n'));
  assert.deepEqual([...v], [
    ['CONFIG_A', 'y'],
    ['CONFIG_B', 'n'],
    ['CONFIG_C', 'n'],
    ['CONFIG_D', '"x y"'],
    ['CONFIG_E', '16000'],
  ]);
});

test('mergeFragments: later fragments win and overrides are reported', () => {
  const m = mergeFragments([
    { name: 'base.config', text: 'CONFIG_A=y\nCONFIG_B=y\n' },
    { name: 'release.config', text: 'CONFIG_B=n\nCONFIG_C=y\n' },
  ]);
  assert.deepEqual([...m.wanted], [['CONFIG_A', 'y'], ['CONFIG_B', 'n'], ['CONFIG_C', 'y']]);
  assert.deepEqual(m.overrides, [{ option: 'CONFIG_B', from: 'y', to: 'n', fragment: 'release.config' }]);
});

test('verifyConfig: =n matches unset or absent; y must be y; values must match', () => {
  const wanted = parseConfig('CONFIG_A=y\nCONFIG_B=n\n# CONFIG_C is not set\nCONFIG_D=16000\nCONFIG_MMVIEW=y\nCONFIG_E=n\n');
  const final = parseConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_D=16000\nCONFIG_E=y\n');
  const ms = verifyConfig(wanted, final);
  assert.deepEqual(ms, [
    { option: 'CONFIG_MMVIEW', wanted: 'y', got: undefined },
    { option: 'CONFIG_E', wanted: 'n', got: 'y' },
  ]);
  assert.equal(formatMismatches(ms), 'CONFIG_MMVIEW=y (got unset), CONFIG_E=n (got y)');
});

test('verifyConfig: everything holds', () => {
  const wanted = parseConfig('CONFIG_A=y\n');
  assert.deepEqual(verifyConfig(wanted, parseConfig('CONFIG_A=y\nCONFIG_OTHER=y\n')), []);
});

test('configHash changes with any part', () => {
  assert.equal(configHash(['a', 'b']), configHash(['a', 'b']));
  assert.notEqual(configHash(['a', 'b']), configHash(['ab']));
  assert.notEqual(configHash(['a', 'b']), configHash(['a', 'c']));
});

test('fragment order: base, arch, flavour', () => {
  assert.deepEqual(fragmentNames({ arch: archSpec('x86_64'), flavour: 'test' }), ['base.config', 'x86_64.config', 'test.config']);
  assert.deepEqual(fragmentNames({ arch: archSpec('arm64'), flavour: 'release' }), ['base.config', 'arm64.config', 'release.config']);
});

test('judgeMismatches: an option of the test configuration that did not take effect fails the build', () => {
  const ms = verifyConfig(parseConfig('CONFIG_KASAN=y\nCONFIG_PERF_EVENTS=y'), parseConfig('CONFIG_PERF_EVENTS=y'));
  const v = judgeMismatches('test', 'arm64-test', ms);
  assert.equal(v.warning, undefined);
  assert.match(v.error ?? '', /^1 option\(s\) from kernel\/config did not take effect in arm64-test: CONFIG_KASAN=y \(got unset\); the tests rely on them/);
});

test('judgeMismatches: other flavours warn, and no mismatch says nothing', () => {
  const ms = verifyConfig(parseConfig('CONFIG_X=y'), parseConfig(''));
  assert.deepEqual(judgeMismatches('release', 'x86_64-release', ms), { warning: '1 option(s) from kernel/config did not take effect in x86_64-release: CONFIG_X=y (got unset)' });
  assert.deepEqual(judgeMismatches('test', 'x86_64-test', []), {});
});
