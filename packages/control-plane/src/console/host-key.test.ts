import assert from 'node:assert/strict';
import { test } from 'node:test';
import ssh2 from 'ssh2';
import { newHostKey } from './host-key.js';

test('every new console host key parses (ssh2 alone writes an unparsable one about once in 250)', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 1_000; i++) {
    const key = newHostKey();
    const parsed = ssh2.utils.parseKey(key);
    assert.ok(!(parsed instanceof Error), `key ${i} does not parse: ${parsed instanceof Error ? parsed.message : ''}`);
    assert.equal(parsed.type, 'ssh-ed25519');
    keys.add(key);
  }
  assert.equal(keys.size, 1_000, 'each key is new');
});
