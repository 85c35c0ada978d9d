import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { may, canSee } from './access.js';
import { knownHostsLines } from './rescue-session.js';
import type { LifeboatError } from './errors.js';
import { bmcDriverOf, isValidProfileName, parseDuration, parseMac, parseSshEndpoint } from './servers.js';

describe('server fields', () => {
  it('normalises MACs and refuses others', () => {
    assert.equal(parseMac('52-54-00-AB-cd-01'), '52:54:00:ab:cd:01');
    assert.throws(() => parseMac('52:54:00:ab:cd'), { code: 'BAD_REQUEST' });
  });
  it('tells BMC drivers from URLs and refuses credentials in them', () => {
    assert.equal(bmcDriverOf('ipmi://127.0.0.1:6230'), 'ipmi');
    assert.equal(bmcDriverOf('redfish://127.0.0.1:8000/redfish/v1/Systems/1'), 'redfish');
    assert.throws(() => bmcDriverOf('ipmi://admin:pw@127.0.0.1:623'), (e: Error) => !e.message.includes('pw'));
    assert.throws(() => bmcDriverOf('http://x'), { code: 'BMC_INVALID' });
  });
  it('parses SSH endpoints and durations', () => {
    assert.deepEqual(parseSshEndpoint('127.0.0.1:2222'), { host: '127.0.0.1', port: 2222 });
    assert.deepEqual(parseSshEndpoint('[::1]:22'), { host: '::1', port: 22 });
    assert.deepEqual(parseSshEndpoint('web1'), { host: 'web1', port: 22 });
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    // A lease too long for a date (now + 99999999999 days is not a date) is bad input, not a RangeError.
    assert.throws(() => parseDuration('99999999999d'), (e: LifeboatError) => e.code === 'BAD_REQUEST' && /too long/.test(e.message));
    assert.equal(parseDuration('36500d'), 36_500 * 86_400_000);
    assert.throws(() => parseDuration('soon'), { code: 'BAD_REQUEST' });
  });
  it('accepts only plain profile names', () => {
    for (const good of ['linux', 'windows-pe', 'linux_2']) assert.ok(isValidProfileName(good), good);
    for (const bad of ['', 'li nux', 'linux\n', '../linux', 'a/b', 'a.b', 'Linux', 'x'.repeat(33)]) assert.ok(!isValidProfileName(bad), JSON.stringify(bad));
  });

  it('builds known_hosts lines', () => {
    const key = { type: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAAC3 root@rescue', fingerprint: 'SHA256:x' };
    assert.deepEqual(knownHostsLines('127.0.0.1', 2222, [key]), ['[127.0.0.1]:2222 ssh-ed25519 AAAAC3']);
    assert.deepEqual(knownHostsLines('web1', 22, [key]), ['web1 ssh-ed25519 AAAAC3']);
  });
  it('keeps customers to their tenant', () => {
    const customer = { tokenId: 't', role: 'customer' as const, tenantId: 'a' };
    assert.equal(may(customer, 'rescue.enter', 'a'), true);
    assert.equal(may(customer, 'rescue.enter', 'b'), false);
    assert.equal(may(customer, 'server.manage'), false);
    assert.equal(canSee(customer, 'b'), false);
    assert.equal(may({ tokenId: 'o', role: 'operator', tenantId: null }, 'server.manage'), true);
  });
});
