// `PATCH /v1/servers/{name}/bmc` (in-process, on every test dialect): an operator gives Lifeboat a
// BMC's new password, user or address; the password is sealed like at registration and never shown;
// customers do not see the route, technicians may not use it; bad input is refused before anything
// is stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testDialects } from '../store/testing.js';
import { startTestApp, type TestApp } from './testing.js';

for (const dialect of testDialects()) {
  describe(`changing a server's BMC on ${dialect}`, { timeout: 120_000 }, () => {
    let t: TestApp;
    let customer: string;
    let technician: string;
    const secret = 'New-BMC-pw.42';

    before(async () => {
      t = await startTestApp({ dialect });
      await t.call('POST', '/v1/tenants', t.admin, { name: 'acme' });
      customer = (await t.call('POST', '/v1/tokens', t.admin, { tenant: 'acme', role: 'customer' })).body?.token;
      technician = (await t.call('POST', '/v1/tokens', t.admin, { role: 'technician' })).body?.token;
      const added = await t.call('POST', '/v1/servers', t.admin, {
        name: 'web-1',
        tenant: 'acme',
        macs: ['52:54:00:aa:bb:01'],
        bmc: { url: 'ipmi://10.0.0.21', user: 'admin', password: 'old-pw' },
      });
      assert.equal(added.status, 201);
    });
    after(() => t.close());

    it('an operator changes the password: it is sealed, the old secret is gone, the audit says only that it changed', async () => {
      const before = (await t.store.servers.byName('web-1'))!;
      const answer = await t.call('PATCH', '/v1/servers/web-1/bmc', t.admin, { password: secret });
      assert.equal(answer.status, 200);
      assert.equal(answer.body?.bmc.url, 'ipmi://10.0.0.21');
      assert.equal(answer.body?.bmc.user, 'admin');
      assert.ok(!answer.text.includes(secret), 'the answer does not hold the password');
      const after = (await t.store.servers.byName('web-1'))!;
      assert.equal(await t.store.servers.bmcPassword(after), secret);
      assert.notEqual(after.bmc.credentialsRef, before.bmc.credentialsRef);
      const secrets = await t.store.database.db.selectFrom('secrets').select(['id', 'sealed']).execute();
      assert.ok(!secrets.some((s) => s.id === before.bmc.credentialsRef), 'the old sealed password is deleted');
      assert.ok(!secrets.some((s) => String(s.sealed).includes(secret)), 'sealed, not in clear');
      const audit = await t.call('GET', '/v1/audit?action=server.bmc_update', t.admin);
      assert.equal(audit.status, 200);
      assert.ok(!audit.text.includes(secret));
      assert.match(audit.text, /"passwordChanged":true/);
    });

    it('an operator moves it to Redfish with a new user; the driver follows the URL', async () => {
      const answer = await t.call('PATCH', '/v1/servers/web-1/bmc', t.admin, { url: 'redfish://10.0.0.22/redfish/v1/Systems/1', user: 'root' });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body?.bmc, { driver: 'redfish', url: 'redfish://10.0.0.22/redfish/v1/Systems/1', user: 'root' });
      assert.equal(await t.store.servers.bmcPassword((await t.store.servers.byName('web-1'))!), secret, 'the password is kept when not given');
      const removed = await t.call('PATCH', '/v1/servers/web-1/bmc', t.admin, { password: null });
      assert.equal(removed.status, 200);
      assert.equal((await t.store.servers.byName('web-1'))!.bmc.credentialsRef, null);
    });

    it('bad input is refused with a stable code and nothing changes', async () => {
      const before = (await t.store.servers.byName('web-1'))!;
      for (const [body, code] of [
        [{}, 'BAD_REQUEST'],
        [{ url: 'http://10.0.0.23' }, 'BMC_INVALID'],
        [{ url: `ipmi://${'a'.repeat(5000)}` }, 'BMC_INVALID'],
        [{ password: { a: 1 } }, 'BAD_REQUEST'],
        [{ colour: 'red' }, 'BAD_REQUEST'],
      ] as const) {
        const answer = await t.call('PATCH', '/v1/servers/web-1/bmc', t.admin, body);
        assert.equal(answer.status, 400, JSON.stringify(body));
        assert.equal(answer.body?.code, code, JSON.stringify(body));
      }
      assert.deepEqual((await t.store.servers.byName('web-1'))!.bmc, before.bmc);
    });

    it('a customer gets 404 as for a missing server; a technician 403; an unknown server 404', async () => {
      const asCustomer = await t.call('PATCH', '/v1/servers/web-1/bmc', customer, { password: 'x' });
      const missing = await t.call('PATCH', '/v1/servers/nope/bmc', customer, { password: 'x' });
      assert.deepEqual([asCustomer.status, asCustomer.body?.code], [404, 'SERVER_NOT_FOUND']);
      assert.equal(asCustomer.body?.message.replace('web-1', 'NAME'), missing.body?.message.replace('nope', 'NAME'));
      const asTechnician = await t.call('PATCH', '/v1/servers/web-1/bmc', technician, { password: 'x' });
      assert.deepEqual([asTechnician.status, asTechnician.body?.code], [403, 'FORBIDDEN']);
      const unknown = await t.call('PATCH', '/v1/servers/nope/bmc', t.admin, { password: 'x' });
      assert.deepEqual([unknown.status, unknown.body?.code], [404, 'SERVER_NOT_FOUND']);
      const noToken = await t.call('PATCH', '/v1/servers/web-1/bmc', undefined, { password: 'x' });
      assert.equal(noToken.status, 401);
    });
  });
}
