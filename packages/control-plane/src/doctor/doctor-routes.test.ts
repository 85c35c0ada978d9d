/**
 * The rescue doctor through the API, in-process on every dialect: the agent is played by the test at
 * the agent API (its report, the work long poll, its answers), as the real agent talks to it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LifeboatClient, type DoctorEvent } from '@lifeboat/core';
import { brokenDoctorReport, waitFor } from '@lifeboat/test-support';
import { sha512Crypt } from '../credentials/sha512-crypt.js';
import { doctorAgentRestartedMessage } from '../store/doctor-reports.js';
import { testDialects } from '../store/testing.js';
import { putInRescue, startTestApp, type TestApp } from '../http/testing.js';
import { doctorReportLimitBytes, doctorRescueEndedMessage } from './doctor-routes.js';

for (const dialect of testDialects()) {
  describe(`the rescue doctor through the API (${dialect})`, { timeout: 120_000 }, () => {
    let testApp: TestApp;
    let acme: string;
    let globex: string;
    let technician: string;
    let agent: string;
    const call = (method: string, url: string, token: string | undefined, body?: unknown) => testApp.call(method, url, token, body);

    async function poll(token: string): Promise<Array<{ id: string; kind: string; params: Record<string, unknown> }>> {
      const answer = await call('GET', '/v1/agent/work?waitSeconds=0', token);
      assert.equal(answer.status, 200);
      return answer.body?.jobs;
    }
    const finding = async (id: string) => ((await call('GET', '/v1/servers/web-1/doctor', acme)).body?.report.findings as Array<{ id: string; fix?: { state: string; changedFiles?: string[] } }>).find((f) => f.id === id)!;
    const audit = async (action: string) => (await testApp.store.audit.list({ limit: 500 })).filter((e) => e.action === action);

    before(async () => {
      testApp = await startTestApp({ dialect });
      const { store } = testApp;
      const acmeTenant = await store.tenants.add('acme');
      const globexTenant = await store.tenants.add('globex');
      acme = (await store.tokens.create({ name: 'acme', role: 'customer', tenantId: acmeTenant.id })).token;
      globex = (await store.tokens.create({ name: 'globex', role: 'customer', tenantId: globexTenant.id })).token;
      technician = (await store.tokens.create({ name: 'tech', role: 'technician', tenantId: null })).token;
      const bmc = { driver: 'ipmi' as const, url: 'ipmi://127.0.0.1:6230', user: 'admin', password: null };
      await store.servers.add({ name: 'web-1', tenantId: acmeTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
      await store.servers.add({ name: 'db-1', tenantId: globexTenant.id, macs: [], bmc, sshEndpoint: null, profiles: ['linux'] });
    });
    after(async () => {
      await testApp?.close();
    });

    it('answers DOCTOR_NOT_RUN before any rescue, and another tenant exactly as a missing server', async () => {
      const never = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.deepEqual([never.status, never.body?.code], [404, 'DOCTOR_NOT_RUN']);
      assert.match(never.body?.message, /never examined web-1.*lifeboat rescue enter web-1/);
      const foreign = await call('GET', '/v1/servers/web-1/doctor', globex);
      const missing = await call('GET', '/v1/servers/nosuch/doctor', globex);
      assert.deepEqual([foreign.status, foreign.body?.code], [404, 'SERVER_NOT_FOUND']);
      assert.equal(foreign.body?.message.replace('web-1', 'X'), missing.body?.message.replace('nosuch', 'X'));
      const fixForeign = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/fix', globex);
      assert.deepEqual([fixForeign.status, fixForeign.body?.code], [404, 'SERVER_NOT_FOUND']);
    });

    it("keeps the agent's running report, then the done one; refuses malformed reports with clear codes", async () => {
      agent = await putInRescue(testApp, 'web-1', new Date(Date.now() + 3_600_000));
      const early = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.deepEqual([early.status, early.body?.code], [404, 'DOCTOR_NOT_RUN']);
      assert.match(early.body?.message, /not reported on web-1 yet/);

      assert.equal((await call('POST', '/v1/agent/doctor', agent, { state: 'running', startedAt: '2026-06-01T10:00:05.000Z', findings: [] })).status, 204);
      const running = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.equal(running.status, 200);
      assert.deepEqual([running.body?.server, running.body?.current, running.body?.report.state, running.body?.fixes], ['web-1', true, 'running', []]);

      const report = brokenDoctorReport();
      const bad: Array<[unknown, number, string]> = [
        [{ ...report, findings: [report.findings[0], report.findings[0]] }, 400, 'BAD_REQUEST'],
        [{ ...report, findings: [{ ...report.findings[0], check: 'astrology' }] }, 400, 'BAD_REQUEST'],
        [{ ...report, findings: [{ ...report.findings[0], id: '../etc' }] }, 400, 'BAD_REQUEST'],
        [{ ...report, state: 'bored' }, 400, 'BAD_REQUEST'],
        [{ ...report, findings: [{ ...report.findings[0], evidence: [{ text: 'x'.repeat(doctorReportLimitBytes) }] }] }, 413, 'PAYLOAD_TOO_LARGE'],
      ];
      for (const [body, status, code] of bad) {
        const answer = await call('POST', '/v1/agent/doctor', agent, body);
        assert.deepEqual([answer.status, answer.body?.code], [status, code], answer.text.slice(0, 200));
      }
      const stranger = await call('POST', '/v1/agent/doctor', 'lba_not-a-token', report);
      assert.deepEqual([stranger.status, stranger.body?.code], [401, 'UNAUTHORIZED']);
      const user = await call('POST', '/v1/agent/doctor', acme, report);
      assert.equal(user.status, 401, 'a user token is no agent token');

      assert.equal((await call('POST', '/v1/agent/doctor', agent, report)).status, 204);
      const done = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.deepEqual([done.body?.report.state, done.body?.report.findings.length, done.body?.report.installedSystem], ['done', 4, '/dev/sda1 (ext4)']);
      assert.deepEqual(done.body?.report.findings[0], report.findings[0]);
      assert.equal((await audit('doctor.reported')).length, 1);
    });

    it('refuses a fix of an unknown finding (404) and of a finding without a fix (409), queuing nothing', async () => {
      const unknown = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-home/fix', acme);
      assert.deepEqual([unknown.status, unknown.body?.code], [404, 'DOCTOR_FINDING_NOT_FOUND']);
      const none = await call('POST', '/v1/servers/web-1/doctor/findings/journal/fix', acme);
      assert.deepEqual([none.status, none.body?.code], [409, 'DOCTOR_NO_FIX']);
      const notFixed = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/undo', acme);
      assert.deepEqual([notFixed.status, notFixed.body?.code], [409, 'DOCTOR_NOT_FIXED']);
      assert.deepEqual(await poll(agent), []);
    });

    it("applies a fix as agent work, records the agent's outcome in the report and the audit log, then undoes it", async () => {
      const asked = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/fix', acme);
      assert.equal(asked.status, 202, asked.text);
      assert.equal(asked.body?.password, undefined);
      assert.deepEqual([asked.body?.state, asked.body?.action, asked.body?.findingId, asked.body?.server], ['pending', 'fix', 'fstab-data', 'web-1']);
      const again = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/fix', technician);
      assert.deepEqual([again.status, again.body?.code], [409, 'DOCTOR_FIX_PENDING']);
      const [work, ...rest] = await poll(agent);
      assert.equal(rest.length, 0);
      assert.deepEqual([work!.id, work!.kind, work!.params], [asked.body?.id, 'doctor_fix', { findingId: 'fstab-data' }]);
      assert.equal((await call('GET', `/v1/servers/web-1/doctor/fixes/${work!.id}`, acme)).body?.state, 'pending');

      const fstabData = brokenDoctorReport().findings.find((f) => f.id === 'fstab-data')!;
      const applied = { ...fstabData, fix: { ...fstabData.fix!, state: 'applied', changedFiles: ['/etc/fstab'] } };
      assert.equal((await call('POST', `/v1/agent/work/${work!.id}/result`, agent, { state: 'completed', result: { ok: true, finding: applied } })).status, 204);
      const fix = await call('GET', `/v1/servers/web-1/doctor/fixes/${work!.id}`, acme);
      assert.deepEqual([fix.body?.state, fix.body?.finding?.fix?.changedFiles, fix.body?.error], ['done', ['/etc/fstab'], null]);
      assert.ok(fix.body?.endedAt);
      assert.deepEqual((await finding('fstab-data')).fix?.state, 'applied');
      const [appliedEvent] = await audit('doctor.fix_applied');
      assert.deepEqual([appliedEvent?.detail.findingId, appliedEvent?.detail.kind, appliedEvent?.detail.changedFiles], ['fstab-data', 'fstab-nofail', ['/etc/fstab']]);
      assert.equal((await audit('doctor.fix_requested')).length, 1);
      const twice = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/fix', acme);
      assert.deepEqual([twice.status, twice.body?.code], [409, 'DOCTOR_ALREADY_FIXED']);

      const undo = await call('POST', '/v1/servers/web-1/doctor/findings/fstab-data/undo', technician);
      assert.equal(undo.status, 202, undo.text);
      const [undoWork] = await poll(agent);
      assert.deepEqual([undoWork!.kind, undoWork!.params], ['doctor_undo', { findingId: 'fstab-data' }]);
      // An outcome without the finding: the control plane moves its fix state itself.
      assert.equal((await call('POST', `/v1/agent/work/${undoWork!.id}/result`, agent, { state: 'completed', result: { ok: true } })).status, 204);
      assert.equal((await finding('fstab-data')).fix?.state, 'available');
      assert.equal((await audit('doctor.fix_undone')).length, 1);
      const view = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.deepEqual(view.body?.fixes.map((f: { action: string; state: string }) => `${f.action}:${f.state}`), ['undo:done', 'fix:done']);
    });

    it('records failures: the agent could not, a malformed outcome, an agent that restarted', async () => {
      const first = await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      const [work] = await poll(agent);
      const error = { code: 'DEVICE_BUSY', message: '/dev/sda1 is mounted read-write at /mnt by an SSH session' };
      await call('POST', `/v1/agent/work/${work!.id}/result`, agent, { state: 'completed', result: { ok: false, error } });
      const failed = await call('GET', `/v1/servers/web-1/doctor/fixes/${first.body?.id}`, acme);
      assert.deepEqual([failed.body?.state, failed.body?.error], ['failed', error]);
      assert.equal((await finding('firewall-nftables')).fix?.state, 'available');

      await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      const [second] = await poll(agent);
      await call('POST', `/v1/agent/work/${second!.id}/result`, agent, { state: 'completed', result: { ok: 'yes' } });
      const malformed = await call('GET', `/v1/servers/web-1/doctor/fixes/${second!.id}`, acme);
      assert.deepEqual([malformed.body?.state, malformed.body?.error?.code], ['failed', 'BAD_ANSWER']);

      await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      const [third] = await poll(agent);
      await call('POST', `/v1/agent/work/${third!.id}/result`, agent, { state: 'failed', message: 'systemctl disable failed' });
      const plain = await call('GET', `/v1/servers/web-1/doctor/fixes/${third!.id}`, acme);
      assert.deepEqual([plain.body?.state, plain.body?.error], ['failed', { code: 'DOCTOR_FIX_FAILED', message: 'systemctl disable failed' }]);

      const fourth = await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      await poll(agent);
      assert.equal((await call('POST', '/v1/agent/events', agent, { step: 'agent_started' })).status, 204);
      const restarted = await call('GET', `/v1/servers/web-1/doctor/fixes/${fourth.body?.id}`, acme);
      assert.deepEqual([restarted.body?.state, restarted.body?.error?.message], ['failed', doctorAgentRestartedMessage]);
      assert.equal((await audit('doctor.fix_failed')).length, 3);
    });

    it('sets a new root password: the hash goes to the agent, the password comes back once, stored nowhere', async () => {
      const asked = await call('POST', '/v1/servers/web-1/doctor/findings/root-login/fix', acme);
      assert.equal(asked.status, 202);
      const response = await testApp.app.inject({ method: 'GET', url: '/v1/servers/web-1/doctor', headers: { authorization: `Bearer ${acme}` } });
      assert.ok(!response.body.includes(asked.body?.password), 'the report view does not hold the password');
      const password = asked.body?.password as string;
      assert.match(password, /^[A-Za-z0-9]{24}$/);
      const [work] = await poll(agent);
      const hash = work!.params.passwordHash as string;
      assert.match(hash, /^\$6\$/);
      const salt = hash.split('$')[hash.startsWith('$6$rounds=') ? 3 : 2]!;
      const rounds = /^\$6\$rounds=(\d+)\$/.exec(hash)?.[1];
      assert.equal(sha512Crypt(password, salt, rounds === undefined ? 5000 : Number(rounds)), hash, 'the hash is the password\'s');
      const db = testApp.store.database.db;
      const everything = JSON.stringify([
        await db.selectFrom('agent_work').selectAll().execute(),
        await db.selectFrom('audit_events').selectAll().execute(),
        await db.selectFrom('doctor_reports').selectAll().execute(),
        await db.selectFrom('secrets').selectAll().execute(),
      ]);
      assert.ok(!everything.includes(password), 'the password is in no table');
      const headers = (await testApp.app.inject({ method: 'POST', url: '/v1/servers/web-1/doctor/findings/root-login/fix', headers: { authorization: `Bearer ${acme}` } })).headers;
      assert.equal(headers['cache-control'], 'no-store');
    });

    it('sends a doctor event on the stream for each change, to its tenant only', async () => {
      const url = await testApp.listen();
      const streams = new AbortController();
      const seen: DoctorEvent[] = [];
      const foreign: unknown[] = [];
      const follow = async () => {
        for await (const event of new LifeboatClient({ url, token: acme }).events({ doctor: true, server: 'web-1', signal: streams.signal })) if ('doctor' in event) seen.push(event);
      };
      const spy = async () => {
        for await (const event of new LifeboatClient({ url, token: globex }).events({ doctor: true, signal: streams.signal })) foreign.push(event);
      };
      const running = [follow(), spy()];
      try {
        await waitFor('a doctor event', async () => {
          await call('POST', '/v1/agent/doctor', agent, brokenDoctorReport());
          return seen.length > 0;
        }, 10_000, 100);
        const last = seen.at(-1)!;
        assert.deepEqual([last.doctor.server, last.doctor.report.findings.length, last.doctor.current], ['web-1', 4, true]);
      } finally {
        streams.abort();
        await Promise.allSettled(running);
      }
      assert.deepEqual(foreign, [], "another tenant's stream carries nothing of web-1");
    });

    it('after the rescue: the last report stays readable (current: false), a pending fix failed, no new fix', async () => {
      const pending = await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      assert.equal(pending.status, 202);
      const { store } = testApp;
      const session = (await store.sessions.openFor((await store.servers.byName('web-1'))!.id))!;
      await store.sessions.transition(session.id, 'request_exit');
      await store.sessions.transition(session.id, 'exited');
      const view = await call('GET', '/v1/servers/web-1/doctor', acme);
      assert.deepEqual([view.status, view.body?.current, view.body?.sessionId], [200, false, session.id]);
      const fix = view.body?.fixes.find((f: { id: string }) => f.id === pending.body?.id);
      assert.deepEqual([fix.state, fix.error.message], ['failed', doctorRescueEndedMessage]);
      const refused = await call('POST', '/v1/servers/web-1/doctor/findings/firewall-nftables/fix', acme);
      assert.deepEqual([refused.status, refused.body?.code], [409, 'INVALID_STATE']);
      const other = await call('GET', `/v1/servers/db-1/doctor/fixes/${pending.body?.id}`, globex);
      assert.deepEqual([other.status, other.body?.code], [404, 'DOCTOR_FIX_NOT_FOUND'], "a fix asked under another server's name is not found");
    });
  });
}
