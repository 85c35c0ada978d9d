// Incidents over HTTP (in-process through the shared `startTestApp`, `app.inject`), on every test dialect: a customer declares one with
// an attached hardware test result, an operator and a technician see it in the queue, comment,
// acknowledge, put the server in rescue themselves and resolve it; another tenant gets 404 for all of it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMailCatcher, type MailCatcher, type ReceivedMail } from '../mail/testing.js';
import { finishedTests } from '../store/incidents-testing.js';
import { testDialects } from '../store/testing.js';
import { startTestApp, type TestApp } from './testing.js';

for (const dialect of testDialects()) {
  describe(`incidents over HTTP on ${dialect}`, { timeout: 120_000 }, () => {
    let t: TestApp;
    let admin: string;
    let acme: string;
    let globex: string;
    let technician: string;
    let incidentId: string;
    let testSmart: string;
    let testGlobex: string;
    let catcher: MailCatcher | undefined;
    let mails: ReceivedMail[] = [];

    // Every call here is authenticated.
    const call = (method: string, url: string, token: string, body?: unknown) => t.call(method, url, token, body);

    before(async () => {
      // A real SMTP server on loopback: the tenant hears of technicians' answers.
      catcher = await startMailCatcher();
      mails = catcher.received;
      const { mailer } = catcher;
      t = await startTestApp({ dialect, app: { mailer } });
      const { store } = t;
      admin = t.admin;
      await call('POST', '/v1/tenants', admin, { name: 'acme', email: 'ops@acme.test' });
      await call('POST', '/v1/tenants', admin, { name: 'globex' });
      acme = (await call('POST', '/v1/tokens', admin, { tenant: 'acme', role: 'customer', name: 'acme-ci' })).body?.token;
      globex = (await call('POST', '/v1/tokens', admin, { tenant: 'globex', role: 'customer' })).body?.token;
      technician = (await call('POST', '/v1/tokens', admin, { role: 'technician', name: 'alice' })).body?.token;
      for (const [name, tenant, mac] of [['web-1', 'acme', '52:54:00:00:01:01'], ['db-1', 'globex', '52:54:00:00:01:02']]) {
        const added = await call('POST', '/v1/servers', admin, { name, tenant, macs: [mac], bmc: { url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 'pw' } });
        assert.equal(added.status, 201, JSON.stringify(added.body));
      }
      // The hardware tests a customer ran, kept by the real store after the rescue ended.
      const web = (await store.servers.byName('web-1'))!;
      const db = (await store.servers.byName('db-1'))!;
      [testSmart] = await finishedTests(store, web.id, [{ kind: 'smart', device: 'sda', status: 'failed', summary: 'SMART overall health: FAILED', result: { reallocated: 812 } }]) as [string];
      [testGlobex] = await finishedTests(store, db.id, [{ kind: 'cpu', device: null, status: 'passed', summary: 'ok', result: null }]) as [string];
    });
    after(async () => {
      await t?.close();
      await catcher?.close();
    });

    it('declares an incident with a message and an attached test result', async () => {
      const refused = await call('POST', '/v1/servers/web-1/incidents', acme, { message: 'sda', tests: [testGlobex] });
      assert.deepEqual([refused.status, refused.body?.code], [404, 'TEST_NOT_FOUND'], 'another tenant\'s test cannot be attached');
      const empty = await call('POST', '/v1/servers/web-1/incidents', acme, { tests: [] });
      assert.deepEqual([empty.status, empty.body?.code], [400, 'BAD_REQUEST']);
      const declared = await call('POST', '/v1/servers/web-1/incidents', acme, { message: 'sda fails SMART\nReallocated sectors keep growing.', tests: [testSmart] });
      assert.equal(declared.status, 201, JSON.stringify(declared.body));
      assert.equal(declared.body?.state, 'open');
      incidentId = declared.body?.id;
      const other = await call('POST', '/v1/servers/web-1/incidents', globex, { message: 'not mine' });
      assert.deepEqual([other.status, other.body?.code], [404, 'SERVER_NOT_FOUND']);
    });

    it('the operator sees it in the queue of every tenant; the customer sees only its own', async () => {
      await call('POST', '/v1/servers/db-1/incidents', globex, { title: 'older title only' });
      const queue = await call('GET', '/v1/incidents?state=open', admin);
      assert.equal(queue.status, 200);
      const mine = queue.body?.incidents.find((i: { id: string }) => i.id === incidentId);
      assert.deepEqual([mine.server, mine.tenant, mine.title, mine.message, mine.state, mine.comments], ['web-1', 'acme', 'sda fails SMART', 'sda fails SMART\nReallocated sectors keep growing.', 'open', 0]);
      const kept = (await t.store.hardwareTests.byId(testSmart))!;
      assert.deepEqual(mine.tests, [{ id: testSmart, kind: 'smart', device: 'sda', status: 'failed', summary: 'SMART overall health: FAILED', result: { reallocated: 812 }, createdAt: kept.createdAt.toISOString(), endedAt: kept.endedAt!.toISOString() }]);
      assert.deepEqual(queue.body?.incidents.map((i: { tenant: string }) => i.tenant), ['acme', 'globex'], 'oldest open first');
      assert.deepEqual((await call('GET', '/v1/incidents', acme)).body?.incidents.map((i: { id: string }) => i.id), [incidentId]);
      assert.equal((await call('GET', '/v1/incidents?state=resolved', admin)).body?.incidents.length, 0);
      const bad = await call('GET', '/v1/incidents?state=closed', admin);
      assert.deepEqual([bad.status, bad.body?.code], [400, 'BAD_REQUEST']);
    });

    it('another tenant gets exactly 404 INCIDENT_NOT_FOUND on show, comment, acknowledge and resolve', async () => {
      for (const [method, url, body] of [
        ['GET', `/v1/incidents/${incidentId}`, undefined],
        ['POST', `/v1/incidents/${incidentId}/comments`, { message: 'hi' }],
        ['POST', `/v1/incidents/${incidentId}`, { state: 'acknowledged' }],
        ['POST', `/v1/incidents/${incidentId}/resolve`, {}],
      ] as const) {
        const answer = await call(method, url, globex, body);
        const missing = await call(method, url.replace(incidentId, 'no-such-incident'), globex, body);
        assert.deepEqual([answer.status, answer.body], [missing.status, { ...missing.body, message: missing.body?.message.replace('no-such-incident', incidentId) }], `${method} ${url}`);
        assert.deepEqual([answer.status, answer.body?.code], [404, 'INCIDENT_NOT_FOUND'], `${method} ${url}`);
      }
    });

    it('technicians comment, acknowledge, put the server in rescue themselves and resolve; the customer answers', async () => {
      const comment = await call('POST', `/v1/incidents/${incidentId}/comments`, technician, { message: 'We will swap sda tonight.' });
      assert.equal(comment.status, 201);
      assert.deepEqual([comment.body?.author, comment.body?.role], ['alice', 'technician']);
      assert.equal((await call('POST', `/v1/incidents/${incidentId}/comments`, acme, { message: 'Thanks, data is backed up.' })).status, 201);
      const customerAck = await call('POST', `/v1/incidents/${incidentId}`, acme, { state: 'acknowledged' });
      assert.deepEqual([customerAck.status, customerAck.body?.code], [403, 'FORBIDDEN']);
      const ack = await call('POST', `/v1/incidents/${incidentId}`, technician, { state: 'acknowledged' });
      assert.deepEqual([ack.status, ack.body?.state, typeof ack.body?.acknowledgedAt], [200, 'acknowledged', 'string']);
      const rescue = await call('POST', '/v1/servers/web-1/rescue', technician, {});
      assert.equal(rescue.status, 202, JSON.stringify(rescue.body));
      const resolved = await call('POST', `/v1/incidents/${incidentId}/resolve`, technician, { message: 'sda replaced, array rebuilt.' });
      assert.deepEqual([resolved.status, resolved.body?.state, resolved.body?.resolution], [200, 'resolved', 'sda replaced, array rebuilt.']);
      const again = await call('POST', `/v1/incidents/${incidentId}/resolve`, technician, {});
      assert.deepEqual([again.status, again.body?.code], [409, 'INVALID_STATE']);
      // The tenant was mailed the technician's comment and the resolution, not its own comment.
      assert.deepEqual(mails.map((m) => m.to), [['ops@acme.test'], ['ops@acme.test']]);
      const unfolded = mails.map((m) => m.raw.replace(/=\r\n/g, '').replace(/\r\n\s+/g, ' '));
      assert.match(unfolded[0]!, /Subject: \[Lifeboat\] web-1: incident answered: sda fails SMART/);
      assert.match(unfolded[0]!, /We will swap sda tonight\./);
      assert.match(unfolded[0]!, /by alice/);
      assert.match(unfolded[1]!, /Subject: \[Lifeboat\] web-1: incident resolved/);
      assert.match(unfolded[1]!, /sda replaced, array rebuilt\./);
      assert.ok(unfolded[1]!.includes(`lifeboat incidents show ${incidentId}`));
      const shown = await call('GET', `/v1/incidents/${incidentId}`, acme);
      assert.equal(shown.status, 200);
      assert.equal(shown.body?.incident.state, 'resolved');
      assert.equal(shown.body?.incident.tests[0].id, testSmart);
      assert.deepEqual(shown.body?.comments.map((c: { author: string; role: string; message: string }) => [c.author, c.role, c.message]), [
        ['alice', 'technician', 'We will swap sda tonight.'],
        ['acme-ci', 'customer', 'Thanks, data is backed up.'],
        ['alice', 'technician', 'sda replaced, array rebuilt.'],
      ]);
    });

    it('records every step in the audit log, without the messages', async () => {
      const audit = await call('GET', '/v1/audit?server=web-1', admin);
      const events = [...(audit.body?.events as { action: string; actor: string; detail: Record<string, unknown> }[])].reverse();
      const actions = events.map((e) => e.action).filter((a) => (a.startsWith('incident.') && a !== 'incident.mail') || a === 'rescue.enter');
      assert.deepEqual(actions, ['incident.create', 'incident.comment', 'incident.comment', 'incident.update', 'rescue.enter', 'incident.resolve']);
      assert.equal(events.filter((e) => e.action === 'incident.mail').length, 2);
      assert.deepEqual(events.find((e) => e.action === 'incident.create')?.detail, { id: incidentId, tests: [testSmart] });
      const techToken = (await t.store.tokens.authenticate(technician))!.tokenId;
      const entered = events.find((e) => e.action === 'rescue.enter');
      assert.deepEqual([entered?.actor, entered?.detail.role], [techToken, 'technician'], 'the technician\'s own rescue is theirs in the log');
      assert.equal(events.find((e) => e.action === 'incident.resolve')?.actor, techToken);
      assert.ok(!JSON.stringify(audit.body).includes('swap sda'), 'comment text stays in the incident');
    });
  });
}
