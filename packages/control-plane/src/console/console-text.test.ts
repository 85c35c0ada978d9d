import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consoleLines, consoleTail } from './console-text.js';

describe('console text', () => {
  it('removes escape sequences and applies carriage-return overwrites', () => {
    const raw = '\x1b[2J\x1b[1;1HSeaBIOS (version 1.16)\r\n\x1b]0;title\x07iPXE 1.21 \x1b[1mok\x1b[0m\r\nConnecting...\rConnected   \r\n\r\n\x1b(B\x1b[6n';
    assert.deepEqual(consoleLines(raw), ['SeaBIOS (version 1.16)', 'iPXE 1.21 ok', 'Connected']);
  });

  it('gives the last lines joined, bounded, or null without any', () => {
    const raw = Buffer.from('[  OK  ] Reached target Local File Systems.\r\nYou are in emergency mode. After logging in, type "journalctl -xb" to view\r\nsystem logs.\r\nGive root password for maintenance\r\n(or press Control-D to continue): ');
    assert.equal(
      consoleTail(raw, 3),
      'system logs. / Give root password for maintenance / (or press Control-D to continue):',
    );
    assert.match(consoleTail(raw, 4) ?? '', /^You are in emergency mode. After logging in/);
    assert.equal(consoleTail('\x1b[0m\r\n\r\n'), null);
    const long = consoleTail('x'.repeat(1000), 1, 50) ?? '';
    assert.equal(long.length, 50);
    assert.ok(long.startsWith('…'));
  });
});
