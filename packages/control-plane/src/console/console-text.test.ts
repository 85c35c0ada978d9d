import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consoleLines, consoleTail, stoppedBoot } from './console-text.js';

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

  it('tells a boot that stopped in emergency mode or a kernel panic, quoting from the line that says so', () => {
    const emergency =
      '[  OK  ] Reached target Local File Systems.\r\n[ TIME ] Timed out waiting for device \x1b[0;1;39mdev-disk-by\\x2duuid-1234.device\x1b[0m.\r\n' +
      'You are in emergency mode. After logging in, type "journalctl -xb" to view\r\nsystem logs, "systemctl reboot" to reboot, "systemctl default" or "exit"\r\n' +
      'to boot into default mode.\r\nGive root password for maintenance\r\n(or press Control-D to continue): ';
    assert.deepEqual(stoppedBoot(emergency), {
      what: 'in emergency mode',
      quote:
        'You are in emergency mode. After logging in, type "journalctl -xb" to view / system logs, "systemctl reboot" to reboot, "systemctl default" or "exit" / ' +
        'to boot into default mode. / Give root password for maintenance / (or press Control-D to continue):',
    });
    const panic =
      '[    1.23] \x1b[1mKernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\x1b[0m\r\n[    1.23] CPU: 0 PID: 1 Comm: swapper\r\n' +
      '[    1.24] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---\r\n';
    assert.deepEqual(stoppedBoot(panic), { what: 'in a kernel panic', quote: '[    1.24] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---' });
    assert.equal(stoppedBoot('SeaBIOS\r\nLinux version 6.1.0\r\n[  OK  ] Started ssh.service.\r\ndebian login: '), null, 'a boot going on');
    assert.equal(stoppedBoot(''), null);
    const long = stoppedBoot(`You are in emergency mode. ${'x'.repeat(600)}`)?.quote ?? '';
    assert.equal(long.length, 400);
    assert.ok(long.startsWith('You are in emergency mode.') && long.endsWith('…'), 'the start is kept');
  });
});
