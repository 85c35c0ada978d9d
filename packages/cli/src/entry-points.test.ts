import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('an entry point not installed beside the CLI is found on PATH, with no options, or not at all', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-entry-'));
  try {
    const entry = { packageName: '@lifeboat/not-installed', bin: 'lifeboat-not-installed' };
    assert.equal(entryPointProgram(entry, { PATH: dir }), undefined);
    writeFileSync(join(dir, entry.bin), '#!/bin/sh\n');
    chmodSync(join(dir, entry.bin), 0o755);
    assert.deepEqual(entryPointProgram(entry, { PATH: `/nonexistent:${dir}` }), { file: join(dir, entry.bin), nodeOptions: [] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
