import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LifeboatClient } from '@lifeboat/core';
import { freePort, type ControlPlaneProcess } from '@lifeboat/test-support';
import { startRecordingControlPlane } from './recording-control-plane.js';

describe('the first start prints how to sign in as the first operator', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-first-'));
  const dataDir = join(dir, 'data');
  const running: ControlPlaneProcess[] = [];
  // The fixture's BMC double records to a file; nothing here reaches a BMC.
  const env = { RECORDING_BMC_LOG: join(dir, 'bmc.log') };

  after(async () => {
    for (const p of running) await p.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints URL, user and password once, keeps only a hash, and the password signs in', async () => {
    const first = await startRecordingControlPlane({ dataDir, port: await freePort(), env, flags: ['--secure-cookies', 'always'] });
    running.push(first);
    const password = /^ {2}password: (\S+)$/m.exec(first.output())?.[1];
    assert.ok(password, first.output());
    assert.match(first.output(), new RegExp(`^ {2}URL: +${first.url.replace(/[.]/g, '\\.')}/$`, 'm'));
    assert.match(first.output(), /^ {2}user: +admin$/m);
    // Only in the notice: no JSON log line holds it, nor the database file.
    const logLines = first.output().split('\n').filter((line) => line.startsWith('{'));
    assert.ok(logLines.some((line) => line.includes('first start: operator user created')));
    assert.ok(logLines.every((line) => !line.includes(password)));
    assert.ok(!readFileSync(join(dataDir, 'lifeboat.db')).includes(password));

    const fetchWithCookie: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      assert.match(response.headers.get('set-cookie') ?? 'Secure', /Secure/, 'the flag of --secure-cookies always');
      return response;
    };
    const browser = new LifeboatClient({ url: first.url, browser: true, fetch: fetchWithCookie });
    const session = await browser.signIn({ name: 'admin', password });
    assert.deepEqual([session.user.name, session.user.role, session.user.tenant], ['admin', 'operator', null]);
    await first.stop();

    const second = await startRecordingControlPlane({ dataDir, port: await freePort(), env });
    running.push(second);
    assert.ok(!second.output().includes('password:'), 'shown once: not on later starts');
    await second.stop();
  });
});
