import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifeboatError } from '@lifeboat/core';
import { createPowerDriver, type PowerDriverOptions } from '../../src/drivers/power/index.js';
import type { PowerDriver } from '../../src/drivers/power/power-driver.js';
import { startRedfishBmc, type RedfishBmc, type RedfishBmcOptions } from './redfish-bmc.js';

function driverFor(bmc: RedfishBmc, options: PowerDriverOptions = {}, password = bmc.password): PowerDriver {
  const scheme = bmc.certificate === undefined ? 'redfish' : 'redfish+https';
  return createPowerDriver({ driver: 'redfish', url: `${scheme}://127.0.0.1:${bmc.port}${bmc.systemPath}`, user: bmc.user, password }, options);
}

async function withBmc(options: RedfishBmcOptions, test: (bmc: RedfishBmc) => Promise<void>): Promise<void> {
  const bmc = await startRedfishBmc(options);
  try {
    await test(bmc);
  } finally {
    await bmc.stop();
  }
}

describe('redfish driver against a strict Redfish BMC', () => {
  let bmc: RedfishBmc;
  let driver: PowerDriver;
  before(async () => {
    bmc = await startRedfishBmc({ requireIfMatch: true });
    driver = driverFor(bmc);
  });
  after(async () => {
    await bmc?.stop();
  });

  it('validates the URL without I/O', () => {
    driver.validate();
    const bmcOf = (url: string) => createPowerDriver({ driver: 'redfish', url, user: 'root', password: 'x' });
    assert.throws(() => bmcOf('redfish://127.0.0.1:1/').validate(), { code: 'BMC_INVALID' });
    assert.throws(() => bmcOf('redfish://127.0.0.1:1/redfish/v1/Chassis/1').validate(), { code: 'BMC_INVALID' });
    assert.throws(() => bmcOf('ipmi://127.0.0.1:623').validate(), { code: 'BMC_INVALID' });
    assert.throws(() => bmcOf('redfish://root:x@127.0.0.1:1/redfish/v1/Systems/1').validate(), { code: 'BMC_INVALID' });
    assert.throws(
      () => createPowerDriver({ driver: 'redfish', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'root', password: 'x' }, { redfish: { insecureTls: true } }).validate(),
      { code: 'BMC_INVALID' },
    );
    bmcOf('redfish+https://bmc.example:8443/redfish/v1/Systems/System.Embedded.1').validate();
  });

  it('reads the power state, powers on, soft-off, cycles, resets, off through sessions it deletes', async () => {
    assert.equal(await driver.powerState(), 'off');
    await driver.setPower('on');
    assert.equal(await driver.powerState(), 'on');
    await driver.setPower('soft');
    assert.equal(await driver.powerState(), 'off');
    await driver.setPower('cycle'); // off: a power-on, not a PowerCycle the BMC would refuse
    await driver.setPower('cycle');
    await driver.setPower('reset');
    await driver.setPower('off');
    assert.equal(await driver.powerState(), 'off');
    assert.deepEqual(bmc.state.resets, ['On', 'GracefulShutdown', 'On', 'PowerCycle', 'ForceRestart', 'ForceOff']);
    assert.equal(bmc.state.openSessions, 0, 'every session was deleted');
    assert.ok(bmc.state.sessionsCreated >= 9);
    assert.deepEqual(bmc.violations, []);
  });

  it('sets the boot override to Pxe once and Hdd continuously, with If-Match, and reads it back', async () => {
    await driver.setBootDevice('network');
    assert.deepEqual([bmc.state.bootTarget, bmc.state.bootEnabled], ['Pxe', 'Once']);
    assert.equal(await driver.bootDevice?.(), 'network');
    await driver.setBootDevice('disk', { persistent: true });
    assert.deepEqual([bmc.state.bootTarget, bmc.state.bootEnabled], ['Hdd', 'Continuous']);
    assert.equal(await driver.bootDevice?.(), 'disk');
    bmc.state.bootEnabled = 'Disabled';
    assert.equal(await driver.bootDevice?.(), 'none', 'no override in force');
    assert.deepEqual(bmc.violations, []);
  });

  it('picks a reset type the BMC allows, and says so when it allows none', async () => {
    await withBmc({ resetTypes: ['On', 'ForceOff', 'ForceRestart'] }, async (limited) => {
      const d = driverFor(limited);
      await d.setPower('on');
      await d.setPower('cycle');
      assert.deepEqual(limited.state.resets, ['On', 'ForceRestart']);
      await assert.rejects(d.setPower('soft'), { code: 'BMC_UNSUPPORTED' });
      assert.deepEqual(limited.violations, []);
    });
  });

  it('uses Basic auth when the BMC has no session service', async () => {
    await withBmc({ sessions: false }, async (plain) => {
      const d = driverFor(plain);
      await d.setPower('on');
      assert.equal(await d.powerState(), 'on');
      assert.equal(plain.state.sessionsCreated, 0);
      assert.deepEqual(plain.violations, []);
    });
  });

  it('maps a wrong password to BMC_AUTH_FAILED (session and Basic) without the password', async () => {
    await assert.rejects(driverFor(bmc, {}, 'wrong-Password-9').powerState(), (error: LifeboatError) => {
      assert.equal(error.code, 'BMC_AUTH_FAILED');
      assert.ok(!error.message.includes('wrong-Password-9'));
      return true;
    });
    await assert.rejects(driverFor(bmc, { redfish: { auth: 'basic' } }, 'wrong-Password-9').setPower('on'), { code: 'BMC_AUTH_FAILED' });
  });

  it('maps a closed port to BMC_UNREACHABLE', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const dead = createPowerDriver({ driver: 'redfish', url: `redfish://127.0.0.1:${port}/redfish/v1/Systems/1`, user: 'root', password: 'x' });
    await assert.rejects(dead.powerState(), { code: 'BMC_UNREACHABLE' });
  });

  it('speaks HTTPS: refuses a self-signed certificate unless accepted or its CA is given', async () => {
    await withBmc({ https: true }, async (tls) => {
      await assert.rejects(driverFor(tls).powerState(), (error: LifeboatError) => error.code === 'BMC_ERROR' && /certificate/.test(error.message));
      await driverFor(tls, { redfish: { insecureTls: true } }).setPower('on');
      assert.equal(await driverFor(tls, { redfish: { ca: tls.certificate } }).powerState(), 'on');
      assert.equal(tls.state.openSessions, 0);
    });
  });

  it('serves DMTF redfishtool (a client no one here wrote) without a violation: the test BMC is not shaped after the driver', async () => {
    await withBmc({}, async (plain) => {
      const dir = mkdtempSync(join(tmpdir(), 'lifeboat-redfishtool-'));
      try {
        const config = join(dir, 'redfishtool.json');
        writeFileSync(config, JSON.stringify({ user: plain.user, password: plain.password }), { mode: 0o600 });
        // Asynchronous: the BMC answers from this very process.
        const redfishtool = async (...args: string[]) =>
          (await promisify(execFile)('redfishtool', ['-c', config, '-r', `127.0.0.1:${plain.port}`, '-A', 'Session', '-S', 'Never', 'Systems', '-1', ...args], { encoding: 'utf8', timeout: 30_000 })).stdout;
        await redfishtool('reset', 'On');
        await redfishtool('setBootOverride', 'Once', 'Pxe');
        assert.match(await redfishtool('-P', 'PowerState'), /"PowerState": "On"/);
        assert.deepEqual(plain.state.resets, ['On']);
        assert.deepEqual([plain.state.bootTarget, plain.state.bootEnabled], ['Pxe', 'Once']);
        assert.equal(plain.state.openSessions, 0);
        assert.deepEqual(plain.violations, []);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('gives up on the BMC when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('rescue cancelled'));
    await assert.rejects(driver.powerState(controller.signal), /rescue cancelled/);
  });
});
