import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerView } from '@lifeboat/core/api';
import { filterAudit, filterFleet, splitList, type AuditRow } from './filters.js';

const server = (name: string, tenant: string, state: ServerView['state'], macs: string[] = []): ServerView => ({
  id: name, name, tenant, macs, bmc: { driver: 'ipmi', url: 'ipmi://x', user: 'admin' }, sshEndpoint: null, console: null, profiles: [], state, status: state, reason: null, createdAt: '2026-06-01T00:00:00Z',
});

describe('operator filters', () => {
  it('filters the fleet by text (name, tenant, MAC), tenant and state', () => {
    const fleet = [server('web-1', 'acme', 'rescue', ['52:54:00:aa:bb:01']), server('db-1', 'globex', 'active'), server('web-2', 'acme', 'active')];
    const names = (filter: { text: string; tenant: string; state: string }) => filterFleet(fleet, filter).map((s) => s.name);
    assert.deepEqual(names({ text: '', tenant: '', state: '' }), ['web-1', 'db-1', 'web-2']);
    assert.deepEqual(names({ text: 'WEB', tenant: '', state: 'active' }), ['web-2']);
    assert.deepEqual(names({ text: 'aa:bb', tenant: 'acme', state: '' }), ['web-1']);
    assert.deepEqual(names({ text: '', tenant: 'globex', state: '' }), ['db-1']);
  });

  it('filters the audit log by action prefix and by actor or detail text', () => {
    const row = (id: string, action: string, actor: string, detail: Record<string, unknown>): AuditRow => ({ id, at: '2026-06-01T00:00:00Z', actor, action, tenantId: null, serverId: null, detail });
    const events = [row('1', 'rescue.enter', 'tok_a', { profile: 'linux' }), row('2', 'incident.create', 'tok_b', { title: 'disk' }), row('3', 'rescue.exit', 'system', {})];
    assert.deepEqual(filterAudit(events, { action: 'rescue', text: '' }).map((e) => e.id), ['1', '3']);
    assert.deepEqual(filterAudit(events, { action: '', text: 'DISK' }).map((e) => e.id), ['2']);
    assert.deepEqual(filterAudit(events, { action: 'rescue', text: 'system' }).map((e) => e.id), ['3']);
  });

  it('splits MACs and profiles typed with commas, spaces or lines', () => {
    assert.deepEqual(splitList(' 52:54:00:00:00:01, 52:54:00:00:00:02\n52:54:00:00:00:03 '), ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03']);
    assert.deepEqual(splitList(''), []);
  });
});
