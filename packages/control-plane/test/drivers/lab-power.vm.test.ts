/**
 * Both power drivers drive a real lab server into a netboot: the lab's IPMI BMC (ipmi_sim + its
 * chassis control) and its Redfish service each get "boot from network, power on" from the driver;
 * the VM's iPXE then fetches the per-MAC script, kernel and initrd from the netboot routes, the
 * initrd prints its command line and powers off, and the driver sees the server off again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freeTcpPort } from '@lifeboat/lab';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { labDown, labStatus, main as labMain, type LabServerStatus } from '@lifeboat/lab';
import { createPowerDriver } from '../../src/drivers/power/index.js';
import type { PowerDriver, PowerState } from '../../src/drivers/power/power-driver.js';
import { directoryImageRegistry } from '../../src/netboot/image-registry.js';
import type { BootTarget, NetbootSource } from '../../src/netboot/netboot-source.js';
import { netbootRoutes } from '../../src/netboot/routes.js';
import { initMarker, tinyBootImage } from '../netboot/tiny-boot-image.js';


async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
}

describe('power drivers netboot a lab server through its BMCs', () => {
  let app: FastifyInstance;
  let labDir: string;
  let server: LabServerStatus;
  const steps: string[] = [];
  let boots = 0;

  before(async () => {
    const imageDir = tinyBootImage();
    const imageId = basename(imageDir);
    const port = await freeTcpPort();
    const source: NetbootSource = {
      async bootTargetFor(mac): Promise<BootTarget> {
        if (mac !== server?.mac) return { kind: 'disk' };
        boots++;
        return { kind: 'rescue', serverId: 'lab-1', sessionId: `ses-${boots}`, imageId, bootToken: `bt_lab_${boots}` };
      },
      async recordBootStep(serverId, step) {
        steps.push(`${step}:${serverId}`);
      },
    };
    app = Fastify();
    await app.register(netbootRoutes, { source, images: directoryImageRegistry(dirname(imageDir)), bootUrl: `http://10.0.2.2:${port}`, retry: { attempts: 3, delaySeconds: 1 } });
    await app.listen({ host: '127.0.0.1', port });
    // A short path: the lab's unix sockets live under it.
    labDir = mkdtempSync(join(tmpdir(), 'lb-lab-'));
    process.env.LIFEBOAT_LAB = labDir;
    const code = await labMain(['up', '--blank', '--off', '--boot-url', `http://10.0.2.2:${port}/boot.ipxe`]);
    assert.equal(code, 0, 'lifeboat lab up');
    const first = labStatus(labDir).servers[0];
    assert.ok(first, 'the lab has a server');
    server = first;
  });

  after(async () => {
    if (labDir) {
      await labDown(labDir);
      rmSync(labDir, { recursive: true, force: true });
    }
    await app?.close();
  });

  async function netbootThrough(driver: PowerDriver): Promise<void> {
    const waitPower = (wanted: PowerState) => eventually(`power ${wanted}`, async () => (await driver.powerState()) === wanted, 120_000);
    driver.validate();
    await waitPower('off');
    const bootsBefore = boots;
    steps.length = 0;
    await driver.setBootDevice('network');
    await driver.setPower('on');
    assert.equal(await driver.powerState(), 'on');
    await eventually('the kernel and initrd fetched', () => steps.includes('initrd_fetched:lab-1'), 120_000);
    assert.deepEqual(steps.slice(0, 3), ['ipxe_script_served:lab-1', 'kernel_fetched:lab-1', 'initrd_fetched:lab-1']);
    const token = `lifeboat.token=bt_lab_${bootsBefore + 1}`;
    await eventually(
      "the initrd's /init printed this boot's command line",
      () => readFileSync(server.serialLog, 'utf8').split('\n').some((line) => line.includes(initMarker) && line.includes(token)),
      120_000,
    );
    // /init powers the machine off: the BMC, and so the driver, sees it off.
    await waitPower('off');
  }

  it('ipmi: boot device network, power on → iPXE → rescue kernel; the BMC reports off after the guest powers off', async () => {
    const started = Date.now();
    await netbootThrough(createPowerDriver({ driver: 'ipmi', url: `ipmi://${server.ipmi.host}:${server.ipmi.port}`, user: server.ipmi.user, password: server.ipmi.password }));
    console.log(`# ipmi: power on to guest power-off ${((Date.now() - started) / 1000).toFixed(1)} s (TCG, shared CPU)`);
  });

  it('redfish: the same through the lab Redfish service', async () => {
    const started = Date.now();
    const url = server.redfish.url.replace(/^http:/, 'redfish:');
    await netbootThrough(createPowerDriver({ driver: 'redfish', url, user: server.redfish.user, password: server.redfish.password }));
    console.log(`# redfish: power on to guest power-off ${((Date.now() - started) / 1000).toFixed(1)} s (TCG, shared CPU)`);
  });
});
