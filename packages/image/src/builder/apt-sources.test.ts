import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { debianSources } from './apt-sources.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-apt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('Debian sources come from deb822 and one-line files; other archives are left out', () => {
  const etc = join(dir, 'a');
  mkdirSync(join(etc, 'sources.list.d'), { recursive: true });
  writeFileSync(
    join(etc, 'sources.list.d', 'debian.sources'),
    'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\n\n' +
      'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
  );
  writeFileSync(join(etc, 'sources.list.d', 'node.sources'), 'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n');
  writeFileSync(join(etc, 'sources.list'), 'deb [arch=amd64] https://packages.example/apt cloud-sdk-bookworm main\n# deb http://old bookworm main\n');
  assert.deepEqual(debianSources(etc), [
    'deb http://mirror.example/debian bookworm main',
    'deb http://mirror.example/debian bookworm-updates main',
    'deb http://mirror.example/debian-security bookworm-security main',
  ]);
});

test('without a Debian source for bookworm, deb.debian.org is used', () => {
  const etc = join(dir, 'b');
  mkdirSync(etc, { recursive: true });
  assert.equal(debianSources(etc)[0], 'deb http://deb.debian.org/debian bookworm main');
});
