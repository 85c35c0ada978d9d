/**
 * Issue 14, finding 1: a rescue cannot be taken over, nor its timeline written, by someone else on
 * the provisioning network who knows the server's MAC. The netboot routes and the agent API run
 * in-process over the store (SQLite and PostgreSQL when available); `remoteAddress` plays the
 * server (10.0.0.5) and the attacker (10.0.0.66).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../../src/store/testing.js';
import { startTestApp, type TestApp } from '../../src/http/testing.js';
import { netbootRoutes } from '../../src/netboot/routes.js';
import { StoreNetbootSource } from '../../src/rescue/netboot-source.js';
import { RequestLimiters } from '../../src/http/rate-limiter.js';

const server = '10.0.0.5';
const attacker = '10.0.0.66';
const mac = '52:54:00:12:34:56';
const otherMac = '52:54:00:00:00:77';

for (const dialect of testDialects()) {
  describe(`a rescue's boot cannot be taken over (${dialect})`, () => {
    let testApp: TestApp;
    let customer: string;
    let serverId: string;

    /** A request as a machine at `address` makes it. */
    async function from(address: string, method: 'GET' | 'POST', url: string, body?: object, token?: string) {
      const response = await testApp.app.inject({ method, url, remoteAddress: address, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body ? { payload: body } : {}) });
      const json = String(response.headers['content-type']).startsWith('application/json') ? (response.json() as Record<string, unknown>) : undefined;
      return { status: response.statusCode, text: response.body, json, headers: response.headers };
    }

    /** The boot credential on the kernel command line of a script, if any. */
    const tokenOf = (script: string) => /lifeboat\.token=(\S+)/.exec(script)?.[1];

    /** The steps of the server's newest enter task by name. */
    async function steps(id: string): Promise<Record<string, string>> {
      const [task] = await testApp.store.tasks.forServer(id, 1);
      return Object.fromEntries((task?.steps ?? []).map((s) => [s.name, s.state]));
    }

    /** Enters rescue for web-1 and does what the enter job does before the server boots. */
    async function bootStarted(): Promise<string> {
      const entered = await testApp.call('POST', '/v1/servers/web-1/rescue', customer, {});
      assert.equal(entered.status, 202, JSON.stringify(entered.body));
      const session = (await testApp.store.sessions.openFor(serverId))!;
      await testApp.store.sessions.setNetboot(session.id, 'rescue');
      await testApp.store.sessions.transition(session.id, 'boot_started');
      return session.id;
    }

    async function endRescue(sessionId: string): Promise<void> {
      const { sessions } = testApp.store;
      if ((await sessions.byId(sessionId))?.state === 'rescue') {
        await sessions.transition(sessionId, 'request_exit');
        await sessions.transition(sessionId, 'exited');
      } else {
        await sessions.transition(sessionId, 'fail', { reason: 'test over' });
      }
    }

    before(async () => {
      // Limits off here: rate-limits.test.ts tests them.
      const limiters = new RequestLimiters({ authFailures: null, enters: null, bootScripts: null, redeems: null });
      testApp = await startTestApp({ dialect, app: { limiters } });
      const { store, images } = testApp;
      await testApp.app.register((instance) => netbootRoutes(instance, { source: new StoreNetbootSource(store), images: images.registry, bootUrl: 'http://10.0.0.1:8080', scriptLimiter: limiters.bootScripts }));
      const admin = testApp.admin;
      assert.equal((await testApp.call('POST', '/v1/tenants', admin, { name: 'acme' })).status, 201);
      customer = (await testApp.call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer' })).body?.token;
      for (const [name, macs] of [['web-1', [mac]], ['web-2', [otherMac]]] as const) {
        const added = await testApp.call('POST', '/v1/servers', admin, { name, tenant: 'acme', macs, bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' }, sshEndpoint: '127.0.0.1:2222' });
        assert.equal(added.status, 201, JSON.stringify(added.body));
      }
      serverId = (await store.servers.byName('web-1'))!.id;
    });
    after(async () => {
      await testApp?.close();
    });

    it('gives the same credential to the address that asked first, none to another, and does not void it', async () => {
      const sessionId = await bootStarted();
      const first = await from(server, 'GET', `/v1/boot/${mac}.ipxe`);
      const again = await from(server, 'GET', `/v1/boot/${mac.replace(/:/g, '-')}.ipxe`);
      const token = tokenOf(first.text);
      assert.ok(token, first.text);
      assert.equal(tokenOf(again.text), token, 'a second fetch (iPXE retrying) gets the same credential: the first is not voided');
      const stolen = await from(attacker, 'GET', `/v1/boot/${mac}.ipxe`);
      assert.equal(stolen.status, 200);
      assert.equal(tokenOf(stolen.text), undefined, 'another address gets no credential');
      assert.match(stolen.text, /sanboot/);
      const redeemed = await from(server, 'POST', '/v1/agent/redeem', { serverId, bootToken: token });
      assert.equal(redeemed.status, 200, redeemed.text);
      const shown = await testApp.call('GET', '/v1/servers/web-1/rescue', customer);
      assert.deepEqual(
        shown.body?.alerts.map((a: { kind: string; address: string }) => [a.kind, a.address]),
        [['boot_script_other_address', attacker]],
        'the refused script request is shown to the customer',
      );
      await endRescue(sessionId);
    });

    it('refuses the credential from another address, shows an alert, and the server still finishes its rescue', async () => {
      const sessionId = await bootStarted();
      const token = tokenOf((await from(server, 'GET', `/v1/boot/${mac}.ipxe`)).text)!;
      // Someone who read the credential (the script went over plain HTTP) tries it first.
      const stolen = await from(attacker, 'POST', '/v1/agent/redeem', { serverId, bootToken: token });
      assert.deepEqual([stolen.status, stolen.json?.code], [401, 'BOOT_TOKEN_INVALID']);
      const made = await from(attacker, 'POST', '/v1/agent/redeem', { serverId, bootToken: 'boot_made-up-credential' });
      assert.deepEqual([made.status, made.json?.code], [401, 'BOOT_TOKEN_INVALID']);
      assert.equal(made.json?.message, stolen.json?.message, 'the same answer: the caller learns nothing');

      const shown = await testApp.call('GET', '/v1/servers/web-1/rescue', customer);
      assert.deepEqual(shown.body?.alerts.map((a: { kind: string; address: string }) => [a.kind, a.address]), [['redeem_other_address', attacker], ['redeem_invalid', attacker]]);
      assert.match(shown.body?.alerts[0].message, /presented from 10\.0\.0\.66, but it was given to 10\.0\.0\.5: refused/);
      assert.ok(!JSON.stringify(shown.body).includes(token), 'the credential is in no alert');
      const operator = await testApp.call('GET', '/v1/servers/web-1/rescue', testApp.admin);
      assert.equal(operator.body?.alerts.length, 2, 'the operator sees them too');
      const audit = await testApp.store.database.db.selectFrom('audit_events').selectAll().where('action', '=', 'agent.redeem_refused').execute();
      assert.ok(audit.some((row) => row.server_id === serverId && String(row.detail).includes(attacker)), 'in the audit log');

      // The real server is not spoiled: its redeem works, and the rescue gets to `rescue`.
      const redeemed = await from(server, 'POST', '/v1/agent/redeem', { serverId, bootToken: token });
      assert.equal(redeemed.status, 200, redeemed.text);
      const agentToken = redeemed.json?.agentToken as string;
      assert.equal((await from(server, 'POST', '/v1/agent/ready', {}, agentToken)).status, 204);
      assert.equal((await testApp.call('GET', '/v1/servers/web-1/rescue', customer)).body?.state, 'rescue');
      const replay = await from(attacker, 'POST', '/v1/agent/redeem', { serverId, bootToken: token });
      assert.equal(replay.status, 401, 'used once');
      await endRescue(sessionId);
    });

    it('lets only the bound address write the timeline; anonymous requests write none', async () => {
      const web2 = (await testApp.store.servers.byName('web-2'))!;
      // A MAC whose server is not in rescue: a local-disk answer, no step anywhere.
      const before2 = await steps(web2.id);
      await from(attacker, 'GET', `/v1/boot/${otherMac}.ipxe`);
      await from(attacker, 'GET', `/v1/images/linux/vmlinuz?server=${web2.id}`);
      assert.deepEqual(await steps(web2.id), before2);

      const sessionId = await bootStarted();
      await from(server, 'GET', `/v1/boot/${mac}.ipxe`);
      assert.equal((await steps(serverId)).ipxe_script_served, 'completed');
      // Someone else fetches the kernel naming the server: nothing recorded.
      const kernel = await from(attacker, 'GET', `/v1/images/linux/vmlinuz?server=${serverId}`);
      assert.equal(kernel.status, 200);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal((await steps(serverId)).kernel_fetched, 'pending', 'the attacker did not mark kernel_fetched');
      await from(server, 'GET', `/v1/images/linux/vmlinuz?server=${serverId}`);
      for (let i = 0; i < 50 && (await steps(serverId)).kernel_fetched !== 'completed'; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal((await steps(serverId)).kernel_fetched, 'completed', 'the server did');
      await endRescue(sessionId);
    });

    it('cannot stop a first asker (docs/security.md), but the real server asking afterwards raises an alert, even once in rescue', async () => {
      const sessionId = await bootStarted();
      // The attacker polled the MAC and asked before the server had even rebooted.
      const token = tokenOf((await from(attacker, 'GET', `/v1/boot/${mac}.ipxe`)).text)!;
      const redeemed = await from(attacker, 'POST', '/v1/agent/redeem', { serverId, bootToken: token });
      assert.equal(redeemed.status, 200);
      assert.equal((await from(attacker, 'POST', '/v1/agent/ready', {}, redeemed.json?.agentToken as string)).status, 204);
      // The server boots and asks: the local disk, and an alert naming its address.
      const real = await from(server, 'GET', `/v1/boot/${mac}.ipxe`);
      assert.equal(tokenOf(real.text), undefined);
      const shown = await testApp.call('GET', '/v1/servers/web-1/rescue', customer);
      assert.deepEqual(shown.body?.alerts.map((a: { kind: string; address: string }) => [a.kind, a.address]), [['boot_script_other_address', server]]);
      assert.match(shown.body?.alerts[0].message, /do not trust the host keys shown/);
      await endRescue(sessionId);
    });

    it('starts a new boot attempt when the bound address asks after its credential was used', async () => {
      const sessionId = await bootStarted();
      const first = tokenOf((await from(server, 'GET', `/v1/boot/${mac}.ipxe`)).text)!;
      assert.equal((await from(server, 'POST', '/v1/agent/redeem', { serverId, bootToken: first })).status, 200);
      // The server reboots before its rescue system was ready (a kernel panic): a new attempt.
      const second = tokenOf((await from(server, 'GET', `/v1/boot/${mac}.ipxe`)).text)!;
      assert.notEqual(second, first);
      assert.equal(tokenOf((await from(attacker, 'GET', `/v1/boot/${mac}.ipxe`)).text), undefined);
      assert.equal((await from(server, 'POST', '/v1/agent/redeem', { serverId, bootToken: first })).status, 401, 'the old attempt is over');
      assert.equal((await from(server, 'POST', '/v1/agent/redeem', { serverId, bootToken: second })).status, 200);
      await endRescue(sessionId);
    });
  });
}
