import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootUrlFor, parseConfig } from './config.js';

describe('config', () => {
  it('needs nothing: SQLite in ./data on 127.0.0.1:8080', () => {
    const config = parseConfig([], {}, '/srv');
    assert.equal(config.dataDir, '/srv/data');
    assert.equal(config.databaseUrl, 'sqlite:/srv/data/lifeboat.db');
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.rescueTimeoutMs, 600_000);
    assert.equal(config.defaultLeaseMs, 86_400_000);
    assert.equal(config.bmcAttempts, 8);
    assert.equal(config.resumeNetbootWaitMs, 90_000);
    assert.equal(bootUrlFor(config, config.listen), 'http://10.0.2.2:8080');
    assert.ok(Object.isFrozen(config));
  });

  it('takes LIFEBOAT_* variables, and flags over them', () => {
    const env = { LIFEBOAT_DATA: '/var/lib/lifeboat', LIFEBOAT_LISTEN: '0.0.0.0:9000', LIFEBOAT_RESCUE_TIMEOUT: '30m', LIFEBOAT_BOOT_URL: 'http://192.0.2.1:9000/' };
    const config = parseConfig(['--listen', '192.0.2.1:9001', '--database', 'postgres://postgres@127.0.0.1:5432/lifeboat'], env, '/');
    assert.equal(config.dataDir, '/var/lib/lifeboat');
    assert.deepEqual(config.listen, { host: '192.0.2.1', port: 9001 });
    assert.equal(config.databaseUrl, 'postgres://postgres@127.0.0.1:5432/lifeboat');
    assert.equal(config.rescueTimeoutMs, 1_800_000);
    assert.equal(bootUrlFor(config, config.listen), 'http://192.0.2.1:9000');
  });

  it('takes a count of BMC attempts from 1 up, and nothing else', () => {
    assert.equal(parseConfig(['--bmc-attempts', '2'], {}).bmcAttempts, 2);
    assert.equal(parseConfig([], { LIFEBOAT_BMC_ATTEMPTS: '20' }).bmcAttempts, 20);
    for (const bad of ['0', '-1', '2.5', 'many', '99999']) assert.throws(() => parseConfig([`--bmc-attempts=${bad}`], {}), /--bmc-attempts: expected a whole number from 1 to 9999/);
  });

  it('refuses what it cannot use, naming where it came from', () => {
    assert.throws(() => parseConfig(['--listen', 'nowhere'], {}), { code: 'CONFIG_INVALID', message: /--listen/ });
    assert.throws(() => parseConfig([], { LIFEBOAT_RESCUE_TIMEOUT: 'soon' }), { code: 'CONFIG_INVALID', message: /LIFEBOAT_RESCUE_TIMEOUT/ });
    assert.throws(() => parseConfig(['--frobnicate', 'x'], {}), { code: 'CONFIG_INVALID' });
    assert.throws(() => parseConfig(['--lease', '30d'], {}), { code: 'CONFIG_INVALID' });
  });

  it('believes no load balancer unless told which, by address or CIDR range', () => {
    assert.deepEqual(parseConfig([], {}, '/srv').trustProxy, []);
    assert.deepEqual(parseConfig(['--trust-proxy', '10.0.0.5, 192.0.2.0/24,fd00::/8'], {}, '/srv').trustProxy, ['10.0.0.5', '192.0.2.0/24', 'fd00::/8']);
    assert.deepEqual(parseConfig([], { LIFEBOAT_TRUST_PROXY: '127.0.0.1' }, '/srv').trustProxy, ['127.0.0.1']);
    assert.deepEqual(parseConfig(['--trust-proxy', 'off'], { LIFEBOAT_TRUST_PROXY: '127.0.0.1' }, '/srv').trustProxy, []);
    for (const bad of ['lb.example', '10.0.0.0/33', '10.0.0.1,', '10.0.0.0/8/1', '::/129']) {
      assert.throws(() => parseConfig(['--trust-proxy', bad], {}, '/srv'), { code: 'CONFIG_INVALID', message: /--trust-proxy: expected IP addresses or CIDR ranges/ }, bad);
    }
  });

  it('runs the SSH console gateway on 127.0.0.1:2222 unless told where, or off', () => {
    const defaults = parseConfig([], {}, '/');
    assert.deepEqual(defaults.consoleListen, { host: '127.0.0.1', port: 2222 });
    assert.equal(defaults.consoleIdleTimeoutMs, 3_600_000);
    assert.equal(parseConfig([], { LIFEBOAT_CONSOLE_LISTEN: 'off' }, '/').consoleListen, null);
    assert.deepEqual(parseConfig(['--console-listen', '0.0.0.0:2022', '--console-idle-timeout', '15m'], { LIFEBOAT_CONSOLE_LISTEN: 'off' }, '/').consoleListen, { host: '0.0.0.0', port: 2022 });
    assert.throws(() => parseConfig(['--console-listen', 'on'], {}), { code: 'CONFIG_INVALID', message: /--console-listen/ });
  });

  it('signs rescue host keys with the generated CA for every host unless given a key file and host patterns', () => {
    const defaults = parseConfig([], {}, '/srv');
    assert.deepEqual([defaults.sshHostCaKey, defaults.sshHostCaHosts], [null, '*']);
    const given = parseConfig(['--ssh-host-ca-hosts', '*.rescue.example.net,192.0.2.*'], { LIFEBOAT_SSH_HOST_CA_KEY: 'keys/host_ca' }, '/srv');
    assert.deepEqual([given.sshHostCaKey, given.sshHostCaHosts], ['/srv/keys/host_ca', '*.rescue.example.net,192.0.2.*']);
    for (const bad of ['*.example.net 192.0.2.1', 'a,,b', '@cert-authority', '*,']) {
      assert.throws(() => parseConfig(['--ssh-host-ca-hosts', bad], {}), { code: 'CONFIG_INVALID', message: /--ssh-host-ca-hosts: expected known_hosts host patterns/ }, bad);
    }
  });

  it('takes the images of other profiles as PROFILE=DIR, and refuses linux, bad names and repeats', () => {
    assert.deepEqual(parseConfig([], {}, '/srv').profileImageDirs, {});
    assert.deepEqual(parseConfig(['--image-profile', 'windows=images/win'], {}, '/srv').profileImageDirs, { windows: '/srv/images/win' });
    assert.deepEqual(parseConfig([], { LIFEBOAT_IMAGE_PROFILES: 'windows=/a, other=/b' }, '/srv').profileImageDirs, { windows: '/a', other: '/b' });
    assert.throws(() => parseConfig(['--image-profile', 'linux=/a']), /linux profile's image is set by --image/);
    assert.throws(() => parseConfig(['--image-profile', 'Windows=/a']), /--image-profile: expected PROFILE=DIR/);
    assert.throws(() => parseConfig(['--image-profile', 'windows']), /expected PROFILE=DIR/);
    assert.throws(() => parseConfig([], { LIFEBOAT_IMAGE_PROFILES: 'windows=/a,windows=/b' }), /LIFEBOAT_IMAGE_PROFILES: profile windows is given twice/);
  });
});
