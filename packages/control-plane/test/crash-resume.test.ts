import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createTestImages } from '../src/netboot/testing.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../src/store/testing.js';
import { api, freePort, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { startRecordingControlPlane } from './recording-control-plane.js';

for (const dialect of testDialects()) describe(`a control plane on ${dialect} killed with SIGKILL in the middle of a job`, { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-crash-'));
  let database: TestDatabase | undefined;
  const dataDir = join(dir, 'data');
  const bmcLog = join(dir, 'bmc.log');
  const hold = join(dir, 'hold');
  const running: ControlPlaneProcess[] = [];
  // Never booted here, but a rescue is refused without a complete image.
  const images = createTestImages();

  after(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('resumes the job after a restart, without redoing the steps it had finished', async () => {
    const port = await freePort();
    const env = { RECORDING_BMC_LOG: bmcLog, RECORDING_BMC_HOLD: hold };
    writeFileSync(hold, '');
    database = await createTestDatabase(dialect);
    const flags = ['--job-lease', '2s', '--resume-netboot-wait', '2s', '--database', database.url, '--image', images.dirOf('linux')];
    const first = await startRecordingControlPlane({ dataDir, port, env, flags });
    running.push(first);

    assert.equal(statSync(join(dataDir, 'admin.token')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'secret.key')).mode & 0o777, 0o600);
    const token = first.adminToken();
    assert.ok(first.output().includes(join(dataDir, 'admin.token')), 'the log names the token file');
    assert.ok(!first.output().includes(token), 'the log never holds the token');

    assert.equal((await api(first.url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const added = await api(first.url, token, 'POST', '/v1/servers', {
      name: 'web-1', tenant: 'acme', macs: ['52:54:00:aa:00:01'], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'bmc-pw-crash' },
    });
    assert.equal(added.status, 201);
    assert.deepEqual(readFileSync(bmcLog, 'utf8').trim().split('\n'), ['validate'], 'registration checks the BMC record (no I/O)');
    const entered = await api(first.url, token, 'POST', '/v1/servers/web-1/rescue', {});
    assert.equal(entered.status, 202);

    // The BMC holds the power cycle: the job is mid-way. Kill the control plane there.
    await waitFor('the power cycle to start', () => existsSync(bmcLog) && readFileSync(bmcLog, 'utf8').includes('setPower:cycle:start'));
    const killed = first.child.pid;
    await first.stop('SIGKILL');
    assert.equal(first.child.signalCode, 'SIGKILL');
    const beforeRestart = readFileSync(bmcLog, 'utf8').trim().split('\n');
    assert.deepEqual(beforeRestart, ['validate', 'validate', 'setBootDevice:network', 'powerState', 'setPower:cycle:start']);

    rmSync(hold);
    const second = await startRecordingControlPlane({ dataDir, port, env, flags });
    running.push(second);
    assert.notEqual(second.child.pid, killed);
    assert.equal(second.adminToken(), token, 'a restart keeps the operator token');

    const server = await waitFor('the server to be preparing rescue', async () => {
      const shown = await api(second.url, token, 'GET', '/v1/servers/web-1', undefined);
      return shown.body?.state === 'preparing_rescue' ? shown.body : undefined;
    });
    assert.equal(server.status, 'Preparing rescue');
    const afterRestart = readFileSync(bmcLog, 'utf8').trim().split('\n').slice(beforeRestart.length);
    // The cycle may have reached the BMC before the kill (nothing to read back): the server, on, had
    // --resume-netboot-wait to netboot; it did not, so it is cycled.
    assert.deepEqual(afterRestart, ['powerState', 'powerState', 'setPower:cycle:start', 'setPower:cycle:done'], 'only the unfinished step ran again');

    const tasks = await api(second.url, token, 'GET', '/v1/servers/web-1/tasks', undefined);
    const steps = Object.fromEntries(tasks.body.tasks[0].steps.map((s: { name: string; state: string }) => [s.name, s.state]));
    assert.deepEqual([steps.validated, steps.boot_device_set, steps.power_cycled], ['completed', 'completed', 'completed']);

    assert.equal(await second.stop('SIGTERM'), 0, 'SIGTERM shuts down cleanly');
    assert.match(second.output(), /control plane stopped/);
  });
});
