import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LifeboatError } from '@lifeboat/core';
import { createPowerDriver } from '../../src/drivers/power/index.js';
import type { PowerDriver, PowerState } from '../../src/drivers/power/power-driver.js';
import { freeUdpPort, startIpmiSim, type IpmiSim } from './ipmi-sim.js';

async function waitForState(driver: PowerDriver, wanted: PowerState): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await driver.powerState()) !== wanted) {
    if (Date.now() > deadline) assert.fail(`power never became ${wanted}`);
    await sleep(200);
  }
}

describe('ipmi driver against OpenIPMI ipmi_sim', () => {
  let sim: IpmiSim;
  let driver: PowerDriver;
  before(async () => {
    sim = await startIpmiSim();
    driver = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${sim.port}`, user: sim.user, password: sim.password });
  });
  after(async () => {
    await sim?.stop();
  });

  it('validates without I/O and declares its capabilities', () => {
    driver.validate();
    assert.deepEqual([...driver.capabilities].sort(), ['boot-device', 'persistent-boot-device', 'power', 'soft-power']);
    const bad = createPowerDriver({ driver: 'ipmi', url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1', user: 'a', password: 'b' });
    assert.throws(() => bad.validate(), { code: 'BMC_INVALID' });
    const long = createPowerDriver({ driver: 'ipmi', url: 'ipmi://127.0.0.1:623', user: 'a', password: 'x'.repeat(21) });
    assert.throws(() => long.validate(), { code: 'BMC_INVALID' });
    for (const url of ['ipmi://127.0.0.1:623?cipher=18', 'ipmi://127.0.0.1:623?cipher=x', 'ipmi://127.0.0.1:623?cypher=3', 'ipmi://127.0.0.1:623/path']) {
      assert.throws(() => createPowerDriver({ driver: 'ipmi', url, user: 'a', password: 'b' }).validate(), { code: 'BMC_INVALID' }, url);
    }
    createPowerDriver({ driver: 'ipmi', url: 'ipmi://[::1]:623?cipher=17', user: 'a', password: 'b' }).validate();
    const inUrl = createPowerDriver({ driver: 'ipmi', url: 'ipmi://admin:pw@127.0.0.1:623', user: 'a', password: 'b' });
    assert.throws(() => inUrl.validate(), (error: LifeboatError) => error.code === 'BMC_INVALID' && !error.message.includes('pw'));
  });

  it('reads the power state and powers on, soft-off, cycles, resets and off', async () => {
    assert.equal(await driver.powerState(), 'off');
    await driver.setPower('on');
    assert.equal(await driver.powerState(), 'on');
    await driver.setPower('soft');
    await waitForState(driver, 'off');
    // cycle on a server that is off: the driver powers it on instead of letting the BMC refuse
    await driver.setPower('cycle');
    await waitForState(driver, 'on');
    await driver.setPower('cycle');
    await waitForState(driver, 'on');
    await driver.setPower('reset');
    await driver.setPower('off');
    assert.equal(await driver.powerState(), 'off');
    const sets = sim.sets();
    assert.deepEqual(sets.slice(0, 3), ['power 1', 'shutdown 1', 'power 1']);
    assert.ok(sets.includes('power 0'), 'the cycle powered off');
    assert.ok(sets.includes('reset 1'), 'the reset reached the chassis');
    assert.equal(sets.at(-1), 'power 0');
  });

  it('sets the next boot device to network and to disk', async () => {
    // ipmi_sim keeps the selector but never the valid bit: a real BMC's next boot would ignore it.
    assert.equal(await driver.bootDevice?.(), 'none');
    await driver.setBootDevice('network');
    assert.equal(sim.sets().at(-1), 'boot pxe');
    await driver.setBootDevice('disk', { persistent: true });
    assert.equal(sim.sets().at(-1), 'boot default');
  });

  it('maps a wrong password to BMC_AUTH_FAILED, without the password in the message', async () => {
    const wrong = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${sim.port}`, user: sim.user, password: 'not-the-Passw0rd' });
    await assert.rejects(wrong.powerState(), (error: LifeboatError) => {
      assert.equal(error.code, 'BMC_AUTH_FAILED');
      assert.equal(error.status, 502);
      assert.ok(!error.message.includes('not-the-Passw0rd'));
      return true;
    });
    const nobody = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${sim.port}`, user: 'nobody', password: sim.password });
    await assert.rejects(nobody.powerState(), { code: 'BMC_AUTH_FAILED' });
  });

  it('maps a cipher suite the BMC does not offer to BMC_UNSUPPORTED', async () => {
    // OpenIPMI's simulator has no SHA-256 suites: asking for 17 is refused in the session handshake
    const sha256 = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${sim.port}?cipher=17`, user: sim.user, password: sim.password });
    await assert.rejects(sha256.powerState(), { code: 'BMC_UNSUPPORTED' });
  });

  it('maps a port nobody answers on to BMC_UNREACHABLE', async () => {
    const port = await freeUdpPort();
    const dead = createPowerDriver(
      { driver: 'ipmi', url: `ipmi://127.0.0.1:${port}`, user: 'admin', password: 'x' },
      { ipmi: { answerSeconds: 1, retries: 1 } },
    );
    await assert.rejects(dead.powerState(), { code: 'BMC_UNREACHABLE' });
  });

  it('hands the password to ipmitool through its environment, never its command line', async () => {
    const port = await freeUdpPort();
    const secret = 'Argv-Never-9z';
    const dead = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${port}`, user: 'admin', password: secret }, { ipmi: { answerSeconds: 1, retries: 1 } });
    const pending = dead.powerState().catch((error: unknown) => error);
    let found: { cmdline: string; environ: string } | undefined;
    const deadline = Date.now() + 5_000;
    while (!found && Date.now() < deadline) {
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (cmdline.startsWith('ipmitool\0') && cmdline.includes(`\0${port}\0`)) found = { cmdline, environ: readFileSync(`/proc/${pid}/environ`, 'utf8') };
        } catch {
          // gone meanwhile
        }
      }
      if (!found) await sleep(20);
    }
    assert.ok(found, 'saw the ipmitool process');
    assert.ok(!found.cmdline.includes(secret));
    assert.ok(found.cmdline.split('\0').includes('-E'));
    assert.ok(found.environ.split('\0').includes(`IPMI_PASSWORD=${secret}`));
    assert.equal(((await pending) as { code?: string }).code, 'BMC_UNREACHABLE');
  });

  it('stops ipmitool when the caller aborts', async () => {
    const port = await freeUdpPort();
    const dead = createPowerDriver({ driver: 'ipmi', url: `ipmi://127.0.0.1:${port}`, user: 'admin', password: 'x' });
    const started = Date.now();
    await assert.rejects(dead.powerState(AbortSignal.timeout(300)), { name: 'TimeoutError' });
    assert.ok(Date.now() - started < 5_000);
  });
});
