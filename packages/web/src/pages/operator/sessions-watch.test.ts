import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RescueView, ServerView } from '@lifeboat/core';
import { concernsOf } from './sessions-watch.js';

const now = Date.parse('2026-06-01T10:00:00Z');
const server = (state: ServerView['state']): ServerView => ({ id: 's', name: 'web-1', tenant: 'acme', macs: [], bmc: { driver: 'ipmi', url: 'ipmi://x', user: 'admin' }, sshEndpoint: null, console: null, profiles: [], state, status: state, reason: null, createdAt: '2026-06-01T00:00:00Z' });
const rescue = (state: RescueView['state'], expiresAt: string | null, responding: boolean | null): RescueView => ({
  server: 'web-1', state, status: state, reason: null, sessionId: 'x', profile: 'linux', expiresAt, deadlineAt: null, passwordLogin: true,
  ssh: { host: null, port: null, user: 'root', hostKeyFingerprints: [], knownHosts: [] }, agent: { lastSeenAt: null, responding },
});

describe('concernsOf', () => {
  it('flags a lease ending within 30 minutes, not one ending later', () => {
    assert.deepEqual(concernsOf(server('rescue'), rescue('rescue', '2026-06-01T10:29:00Z', true), now), ['expiring']);
    assert.deepEqual(concernsOf(server('rescue'), rescue('rescue', '2026-06-01T10:31:00Z', true), now), []);
  });
  it('flags failed states and a silent agent', () => {
    assert.deepEqual(concernsOf(server('rescue_failed'), null, now), ['failed']);
    assert.deepEqual(concernsOf(server('exit_failed'), null, now), ['failed']);
    assert.deepEqual(concernsOf(server('rescue'), rescue('rescue', '2026-06-02T10:00:00Z', false), now), ['agentSilent']);
    assert.deepEqual(concernsOf(server('active'), null, now), []);
  });
});
