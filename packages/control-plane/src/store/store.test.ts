import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { SecretBox } from '../credentials/secret-box.js';
import { hashToken, newToken } from '../credentials/tokens.js';
import { Store } from './store.js';
import { createTestDatabase, testDialects, type TestDatabase } from './testing.js';

const deadlines = { requestMs: 60_000, rescueMs: 600_000, exitMs: 300_000 };

for (const dialect of testDialects()) {
  describe(`store on ${dialect}`, { timeout: 120_000 }, () => {
    let database: TestDatabase;
    let store: Store;
    let dir: string;
    let clock = new Date('2026-03-01T10:00:00.000Z');

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-'));
      database = await createTestDatabase(dialect);
      store = await Store.open({
        databaseUrl: database.url,
        secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
        deadlines,
        now: () => clock,
      });
    });
    after(async () => {
      await store?.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('creates the secret key file readable by its owner only', () => {
      assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
    });

    it('migrates twice without harm', async () => {
      const again = await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines });
      await again.close();
    });

    it('adds tenants once', async () => {
      await store.tenants.add('acme', 'ops@acme.test');
      await assert.rejects(store.tenants.add('acme'), { code: 'TENANT_EXISTS', status: 409 });
      assert.equal((await store.tenants.byName('acme')).email, 'ops@acme.test');
      await assert.rejects(store.tenants.byName('nobody'), { code: 'TENANT_NOT_FOUND' });
    });

    it('stores API tokens as hashes only', async () => {
      const acme = await store.tenants.byName('acme');
      const { token, record } = await store.tokens.create({ name: 'ci', role: 'customer', tenantId: acme.id });
      assert.match(token, /^lb_[A-Za-z0-9_-]{43}$/);
      const principal = await store.tokens.authenticate(token);
      assert.deepEqual(principal, { tokenId: record.id, role: 'customer', tenantId: acme.id });
      const rows = await store.database.db.selectFrom('api_tokens').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(token));
      assert.ok(rows.some((r) => r.token_hash === hashToken(token)));
      await store.tokens.revoke(record.id);
      assert.equal(await store.tokens.authenticate(token), undefined);
      await assert.rejects(store.tokens.create({ name: 'x', role: 'customer', tenantId: null }), { code: 'BAD_REQUEST' });
    });

    it('registers servers with sealed BMC passwords', async () => {
      const acme = await store.tenants.byName('acme');
      const server = await store.servers.add({
        name: 'web-1',
        tenantId: acme.id,
        macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'],
        bmc: { driver: 'ipmi', url: 'ipmi://127.0.0.1:6230', user: 'admin', password: 's3cret-bmc-pw' },
        sshEndpoint: { host: '127.0.0.1', port: 2222 },
        profiles: ['linux'],
      });
      assert.equal(server.state, 'active');
      assert.deepEqual(server.macs, ['52:54:00:00:00:01', '52:54:00:00:00:02']);
      assert.equal(await store.servers.bmcPassword(server), 's3cret-bmc-pw');
      const secrets = await store.database.db.selectFrom('secrets').selectAll().execute();
      assert.ok(!JSON.stringify(secrets).includes('s3cret-bmc-pw'));
      assert.equal((await store.servers.byMac('52:54:00:00:00:02'))?.name, 'web-1');
      assert.equal(await store.servers.byMac('52:54:00:00:00:09'), undefined);
      await assert.rejects(
        store.servers.add({ ...serverInput(acme.id), name: 'web-1', macs: ['52:54:00:00:00:07'] }),
        { code: 'SERVER_EXISTS' },
      );
      await assert.rejects(store.servers.add({ ...serverInput(acme.id), name: 'web-2', macs: ['52:54:00:00:00:01'] }), { code: 'MAC_IN_USE' });
      assert.equal(await store.servers.byName('web-2'), undefined, 'a failed add leaves nothing behind');
      assert.deepEqual((await store.servers.list(acme.id)).map((s) => s.name), ['web-1']);
    });

    it('walks a rescue session through its states', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = await store.sessions.open({
        serverId: server.id,
        profile: 'linux',
        email: null,
        sshKeys: [],
        passwordHash: '$6$salt$hash',
        expiresAt: new Date(clock.getTime() + 86_400_000),
        requestedBy: 'test',
      });
      assert.equal(session.state, 'rescue_requested');
      assert.equal(session.deadlineAt?.getTime(), clock.getTime() + deadlines.requestMs);
      assert.equal((await store.servers.byName('web-1'))?.state, 'rescue_requested');
      await assert.rejects(
        store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: clock, requestedBy: null }),
        { code: 'INVALID_STATE', status: 409 },
      );
      await assert.rejects(store.sessions.transition(session.id, 'ready'), { code: 'INVALID_STATE' });
      const preparing = await store.sessions.transition(session.id, 'boot_started');
      assert.equal(preparing.deadlineAt?.getTime(), clock.getTime() + deadlines.rescueMs);

      // Boot credential: minted once per attempt, bound to the address that asked, redeemed once from it.
      const first = await store.bootCredentials.issue(session.id, '10.0.0.5');
      const again = await store.bootCredentials.issue(session.id, '10.0.0.5');
      assert.ok(first.kind === 'issued' && again.kind === 'issued');
      assert.deepEqual([again.token, again.attempt, again.fresh], [first.token, 1, false], 'asking again gives the same credential');
      assert.deepEqual(await store.bootCredentials.issue(session.id, '10.0.0.66'), { kind: 'bound elsewhere', boundTo: '10.0.0.5' });
      const stored = await store.database.db.selectFrom('rescue_sessions').select(['boot_token_hash', 'boot_token_sealed']).where('id', '=', session.id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(stored).includes(first.token), 'never in clear in the database');
      const agentToken = newToken('agent');
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(first.token), hashToken(agentToken), '10.0.0.66'), { kind: 'other address', sessionId: session.id, boundTo: '10.0.0.5' });
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(newToken('boot')), hashToken(agentToken), '10.0.0.5'), { kind: 'invalid', sessionId: session.id });
      // An answer lost on the way (the control plane killed after the commit): the agent asks again,
      // from the bound address, and only the last answer's agent token works.
      const lostAgentToken = newToken('agent');
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(first.token), hashToken(lostAgentToken), '10.0.0.5'), { kind: 'redeemed', sessionId: session.id });
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(first.token), hashToken(agentToken), '10.0.0.5'), { kind: 'redeemed', sessionId: session.id }, 'again, until ready');
      assert.equal(await store.sessions.byAgentToken(hashToken(lostAgentToken)), undefined, 'the lost answer\'s token is replaced');
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(first.token), hashToken(agentToken), '10.0.0.66'), { kind: 'other address', sessionId: session.id, boundTo: '10.0.0.5' });
      assert.deepEqual(await store.bootCredentials.redeem('no-such-server', hashToken(first.token), hashToken(agentToken), '10.0.0.5'), { kind: 'no session' });
      const view = await store.sessions.byAgentToken(hashToken(agentToken));
      assert.equal(view?.passwordHash, '$6$salt$hash');
      assert.equal(view?.agentTokenRevoked, false);

      await store.sessions.setHostKeys(session.id, [{ type: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAA', fingerprint: 'SHA256:abc' }]);
      const inRescue = await store.sessions.transition(session.id, 'ready');
      assert.equal(inRescue.state, 'rescue');
      assert.deepEqual(await store.bootCredentials.redeem(server.id, hashToken(first.token), hashToken(newToken('agent')), '10.0.0.5'), { kind: 'invalid', sessionId: session.id }, 'ready: the boot credential is gone');
      const cleared = await store.database.db.selectFrom('rescue_sessions').select(['boot_token_hash', 'boot_token_sealed']).where('id', '=', session.id).executeTakeFirstOrThrow();
      assert.deepEqual(cleared, { boot_token_hash: null, boot_token_sealed: null });
      assert.equal(inRescue.deadlineAt?.getTime(), inRescue.expiresAt.getTime());
      assert.equal(inRescue.hostKeys[0]?.fingerprint, 'SHA256:abc');

      const extended = await store.sessions.extend(session.id, new Date(clock.getTime() + 2 * 86_400_000));
      assert.equal(extended.deadlineAt?.getTime(), clock.getTime() + 2 * 86_400_000);

      assert.deepEqual(await store.sessions.pastDeadline(clock), []);
      clock = new Date(clock.getTime() + 3 * 86_400_000);
      assert.deepEqual((await store.sessions.pastDeadline(clock)).map((s) => s.id), [session.id]);

      await store.sessions.transition(session.id, 'expire');
      await store.sessions.revokeAgentToken(session.id);
      assert.equal((await store.sessions.byAgentToken(hashToken(agentToken)))?.agentTokenRevoked, true);
      const done = await store.sessions.transition(session.id, 'exited');
      assert.equal(done.state, 'active');
      assert.ok(done.endedAt);
      assert.equal(await store.sessions.openFor(server.id), undefined);
      assert.equal((await store.sessions.latestFor(server.id))?.id, session.id);
      await assert.rejects(store.sessions.transition(session.id, 'request_exit'), { code: 'INVALID_STATE' });
      assert.equal((await store.servers.byName('web-1'))?.state, 'active');
    });

    it('lets only one of two racing transitions land', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const session = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: ['ssh-ed25519 AAAA k'], passwordHash: null, expiresAt: new Date(clock.getTime() + 3_600_000), requestedBy: null });
      const results = await Promise.allSettled([store.sessions.transition(session.id, 'boot_started'), store.sessions.transition(session.id, 'boot_started')]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'INVALID_STATE').length, 1);
      const failed = await store.sessions.transition(session.id, 'fail', { reason: 'BMC unreachable' });
      assert.equal(failed.state, 'rescue_failed');
      assert.equal(failed.reason, 'BMC unreachable');
      // A failed session may be retried: the old one closes, a new one opens.
      const retry = await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(clock.getTime() + 3_600_000), requestedBy: null });
      assert.notEqual(retry.id, session.id);
      assert.ok((await store.sessions.byId(session.id))?.endedAt);
      await store.sessions.transition(retry.id, 'request_exit');
      await store.sessions.transition(retry.id, 'exited');
    });

    it('records task steps in order, idempotently', async () => {
      const server = (await store.servers.byName('web-1'))!;
      const task = await store.tasks.create({ serverId: server.id, sessionId: null, kind: 'enter_rescue', steps: ['validated', 'boot_device_set', 'ready'] });
      await store.tasks.step(task.id, 'validated', 'completed');
      const firstEnd = (await store.tasks.byId(task.id))!.steps[0]!.endedAt;
      clock = new Date(clock.getTime() + 1000);
      await store.tasks.step(task.id, 'validated', 'completed');
      await store.tasks.step(task.id, 'boot_device_set', 'running');
      await store.tasks.step(task.id, 'extra', 'completed', 'from the agent');
      await Promise.all([store.tasks.step(task.id, 'boot_device_set', 'completed'), store.tasks.step(task.id, 'ready', 'completed')]);
      await store.tasks.finish(task.id, 'completed');
      const done = (await store.tasks.byId(task.id))!;
      assert.deepEqual(done.steps.map((s) => [s.name, s.state]), [
        ['validated', 'completed'],
        ['boot_device_set', 'completed'],
        ['extra', 'completed'],
        ['ready', 'completed'],
      ]);
      assert.equal(done.steps[0]!.endedAt?.getTime(), firstEnd?.getTime());
      assert.equal(done.steps[2]!.detail, 'from the agent');
      assert.equal(done.state, 'completed');
      assert.equal((await store.tasks.forServer(server.id))[0]?.id, task.id);
    });

    it('keeps an audit log, incidents and agent work', async () => {
      const server = (await store.servers.byName('web-1'))!;
      await store.audit.record('token-1', 'rescue.enter', { serverId: server.id, tenantId: server.tenantId, detail: { profile: 'linux' } });
      const [event] = await store.audit.list({ serverId: server.id });
      assert.equal(event?.action, 'rescue.enter');
      assert.deepEqual(event?.detail, { profile: 'linux' });
      const incident = await store.incidents.create({ serverId: server.id, tenantId: server.tenantId, title: 'disk fails SMART', detail: '', attachment: { smart: 'FAILED' }, createdBy: 'token-1' });
      assert.equal((await store.incidents.setState(incident.id, 'acknowledged')).state, 'acknowledged');
      assert.deepEqual((await store.incidents.list({ tenantId: server.tenantId }))[0]?.attachment, { smart: 'FAILED' });
      const session = (await store.sessions.latestFor(server.id))!;
      const id = await store.agentWork.add(session.id, 'smart', { disk: 'sda' });
      assert.deepEqual(await store.agentWork.take(session.id), [{ id, kind: 'smart', params: { disk: 'sda' } }]);
      assert.deepEqual(await store.agentWork.take(session.id), []);
      assert.equal(await store.agentWork.complete(session.id, id, 'completed', { ok: true }, null), true);
      assert.deepEqual((await store.agentWork.byId(id))?.result, { ok: true });
      const leave = await store.agentWork.add(session.id, 'leave_rescue', { taskId: 't-1' });
      assert.deepEqual(await store.agentWork.ofKind(session.id, 'leave_rescue'), [{ id: leave, params: { taskId: 't-1' }, state: 'pending', result: null, message: null }]);
      assert.deepEqual((await store.agentWork.ofKind(session.id, 'smart')).map((w) => [w.id, w.state]), [[id, 'completed']]);
    });

    it('removes a server with everything that hangs off it', async () => {
      const server = (await store.servers.byName('web-1'))!;
      await store.servers.remove(server);
      assert.equal(await store.servers.byName('web-1'), undefined);
      const left = await sql<{ n: number }>`select count(*) as n from secrets`.execute(store.database.db);
      assert.equal(Number(left.rows[0]?.n), 0);
    });

    it('announces changes to live-event listeners (of every replica on PostgreSQL)', async () => {
      const replica =
        dialect === 'postgres'
          ? await Store.open({ databaseUrl: database.url, secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')), deadlines })
          : store;
      try {
        const tenant = await store.tenants.byName('acme');
        const server = await store.servers.add({ ...serverInput(tenant.id), name: 'live-1' });
        const heard = new Promise<string>((resolve) => replica.changes.once('server', resolve));
        await store.sessions.open({ serverId: server.id, profile: 'linux', email: null, sshKeys: [], passwordHash: null, expiresAt: new Date(clock.getTime() + 60_000), requestedBy: null });
        assert.equal(await heard, server.id);
      } finally {
        if (replica !== store) await replica.close();
      }
    });
  });
}

function serverInput(tenantId: string) {
  return {
    name: 'x',
    tenantId,
    macs: [] as string[],
    bmc: { driver: 'ipmi' as const, url: 'ipmi://127.0.0.1:1', user: 'u', password: null },
    sshEndpoint: null,
    profiles: ['linux'],
  };
}
