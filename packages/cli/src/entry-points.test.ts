import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { entryPointProgram, entryPoints } from './entry-points.js';

test('lifeboat serve runs the control plane bin with the Node.js options of its manifest', () => {
  const program = entryPointProgram(entryPoints.serve);
  assert.ok(program);
  assert.match(program.file, /packages\/control-plane\/bin\/lifeboat-control-plane\.mjs$/);
  assert.deepEqual(program.nodeOptions, ['--max-semi-space-size=4']);
});

test('a package without Node.js options gets none', () => {
  const program = entryPointProgram(entryPoints.lab);
  assert.ok(program);
  assert.deepEqual(program.nodeOptions, []);
});

/** A package `pkg` with a bin `name` (and Node.js options) in `root`, linked as npm does into `root/node_modules/.bin`. */
function installedPackage(root: string, name: string, nodeOptions?: string[]): string {
  const pkg = join(root, 'node_modules', '@acme', 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@acme/pkg', bin: { [name]: 'bin/main.mjs' }, ...(nodeOptions ? { lifeboat: { nodeOptions } } : {}) }));
  writeFileSync(join(pkg, 'bin', 'main.mjs'), '');
  mkdirSync(join(root, 'node_modules', '.bin'), { recursive: true });
  symlinkSync('../@acme/pkg/bin/main.mjs', join(root, 'node_modules', '.bin', name));
  return realpathSync(join(pkg, 'bin', 'main.mjs'));
}

test('an entry point is found by its bin name in node_modules/.bin above the CLI, whatever its package is called', () => {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-entry-'));
  try {
    const file = installedPackage(root, 'lifeboat-elsewhere', ['--max-semi-space-size=4', 'not-an-option']);
    const from = join(root, 'node_modules', '@lifeboat', 'cli', 'src');
    mkdirSync(from, { recursive: true });
    const other = mkdtempSync(join(tmpdir(), 'lifeboat-entry-path-'));
    try {
      // node_modules/.bin comes before PATH, as npm runs scripts.
      writeFileSync(join(other, 'lifeboat-elsewhere'), '#!/bin/sh\n');
      chmodSync(join(other, 'lifeboat-elsewhere'), 0o755);
      assert.deepEqual(entryPointProgram({ bin: 'lifeboat-elsewhere' }, { from, env: { PATH: other } }), { file, nodeOptions: ['--max-semi-space-size=4'] });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a program on PATH that is a package\'s bin gets its Node.js options; a manifest whose bin is another file gives none', () => {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-entry-'));
  try {
    const file = installedPackage(root, 'lifeboat-global', ['--max-semi-space-size=4']);
    const nowhere = join(root, 'nowhere');
    mkdirSync(nowhere);
    assert.deepEqual(entryPointProgram({ bin: 'lifeboat-global' }, { from: nowhere, env: { PATH: join(root, 'node_modules', '.bin') } }), { file, nodeOptions: ['--max-semi-space-size=4'] });
    const stray = join(root, 'node_modules', '@acme', 'pkg', 'bin', 'lifeboat-stray');
    writeFileSync(stray, '');
    assert.deepEqual(entryPointProgram({ bin: 'lifeboat-stray' }, { from: nowhere, env: { PATH: dirname(stray) } }), { file: realpathSync(stray), nodeOptions: [] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('an entry point not installed beside the CLI is found on PATH, with no options, or not at all', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-entry-'));
  try {
    const entry = { bin: 'lifeboat-not-installed' };
    assert.equal(entryPointProgram(entry, { env: { PATH: dir } }), undefined);
    writeFileSync(join(dir, entry.bin), '#!/bin/sh\n');
    chmodSync(join(dir, entry.bin), 0o755);
    assert.deepEqual(entryPointProgram(entry, { env: { PATH: `/nonexistent:${dir}` } }), { file: realpathSync(join(dir, entry.bin)), nodeOptions: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
