/**
 * Issue 14, finding 8 (second half): after a `kill -9` of the control plane, the resumed enter job does
 * not repeat a BMC action whose effect is already reached: it reads the boot device back first. The
 * control plane runs as a child process (its real `main`, the recording BMC at the driver boundary,
 * whose boot device outlives the control plane as a real BMC's does).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { api, freePort, waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { startRecordingControlPlane } from './recording-control-plane.js';
import { createTestImages } from '../src/netboot/testing.js';
import { createTestDatabase, testDialects, type TestDatabase } from '../src/store/testing.js';

for (const dialect of testDialects()) describe(`a control plane on ${dialect} killed after the BMC set the boot device`, { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bmc-resume-'));
  let database: TestDatabase | undefined;
  const running: ControlPlaneProcess[] = [];
  const images = createTestImages();

  after(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    images.remove();
  });

  it('reads the boot device back instead of setting it twice', async () => {
    const dataDir = join(dir, 'data');
    const bmcLog = join(dir, 'bmc.log');
    const holdBoot = join(dir, 'hold-boot');
    const port = await freePort();
    const env = { RECORDING_BMC_LOG: bmcLog, RECORDING_BMC_HOLD_BOOT: holdBoot };
    writeFileSync(holdBoot, '');
    database = await createTestDatabase(dialect);
    const flags = ['--job-lease', '2s', '--database', database.url, '--image', images.dirOf('linux')];
    const first = await startRecordingControlPlane({ dataDir, port, env, flags });
    running.push(first);
    const token = first.adminToken();
    assert.equal((await api(first.url, token, 'POST', '/v1/tenants', { name: 'acme' })).status, 201);
    const added = await api(first.url, token, 'POST', '/v1/servers', { name: 'web-1', tenant: 'acme', macs: ['52:54:00:aa:08:01'], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'bmc-pw' } });
    assert.equal(added.status, 201);
    assert.equal((await api(first.url, token, 'POST', '/v1/servers/web-1/rescue', {})).status, 202);

    // The BMC has set the boot device; its answer never reaches the control plane, killed now.
    await waitFor('the boot device to be set', () => existsSync(bmcLog) && readFileSync(bmcLog, 'utf8').includes('setBootDevice:network'));
    await first.stop('SIGKILL');
    const beforeRestart = readFileSync(bmcLog, 'utf8').trim().split('\n');
    assert.deepEqual(beforeRestart, ['validate', 'validate', 'setBootDevice:network']);

    rmSync(holdBoot);
    const second = await startRecordingControlPlane({ dataDir, port, env, flags });
    running.push(second);
    await waitFor('the server to be preparing rescue', async () => (await api(second.url, token, 'GET', '/v1/servers/web-1', undefined)).body?.state === 'preparing_rescue');
    const afterRestart = readFileSync(bmcLog, 'utf8').trim().split('\n').slice(beforeRestart.length);
    assert.deepEqual(afterRestart, ['bootDevice', 'powerState', 'setPower:cycle:start', 'setPower:cycle:done'], 'the boot device was read back, not set again');
    const tasks = await api(second.url, token, 'GET', '/v1/servers/web-1/tasks', undefined);
    const step = tasks.body.tasks[0].steps.find((s: { name: string }) => s.name === 'boot_device_set');
    assert.equal(step.state, 'completed');
    assert.match(step.detail, /already set on the BMC/);
    assert.equal(await second.stop('SIGTERM'), 0);
  });
});
