import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  freePort,
  startControlPlaneProcess,
  startTestBmc,
  waitFor,
  type ControlPlaneProcess,
  type TestBmc,
} from '@lifeboat/test-support';



describe('lifeboat CLI against a running control plane', { timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-'));
  let plane: ControlPlaneProcess;
  let bmc: TestBmc;
  let sshd: ChildProcess | undefined;
  let sshPort: number;
  let adminEnv: NodeJS.ProcessEnv;
  let customerEnv: NodeJS.ProcessEnv;
  const mac = '52:54:00:cc:00:01';

  const lifeboat = (args: string[], env: NodeJS.ProcessEnv) => runLifeboat(args, env);

  function keyPair(name: string): string {
    const file = join(dir, name);
    const result = spawnSyncQuiet('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    assert.equal(result, 0);
    return readFileSync(`${file}.pub`, 'utf8').trim();
  }

  before(async () => {
    const port = await freePort();
    sshPort = await freePort();
    // The test plays the agent up to ready but never answers leave_rescue: the exit falls back to the BMC after 2 s.
    plane = await startControlPlaneProcess({ dataDir: join(dir, 'data'), port, flags: ['--exit-agent-timeout', '2s'] });
    // web-1's BMC: Redfish, in front of a machine that only records what it is asked (the test plays its agent).
    bmc = await startTestBmc({ controlPlaneUrl: plane.url, mac });
    const base: NodeJS.ProcessEnv = { ...process.env, LIFEBOAT_URL: plane.url, LIFEBOAT_DATA: join(dir, "nowhere") };
    delete base.LIFEBOAT_TOKEN;
    adminEnv = { ...base, LIFEBOAT_TOKEN: plane.adminToken() };
    customerEnv = base;
  });
  after(async () => {
    sshd?.kill('SIGTERM');
    await plane?.stop('SIGTERM');
    await bmc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a tenant, a customer token and a server', async () => {
    const tenant = await lifeboat(['tenants', 'add', 'acme', '--json'], adminEnv);
    assert.equal(tenant.code, 0, tenant.stderr);
    assert.equal(tenant.json.name, 'acme');

    const token = await lifeboat(['tokens', 'create', '--tenant', 'acme', '--role', 'customer', '--json'], adminEnv);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.json.token, /^lb_/);
    writeFileSync(join(dir, 'customer.token'), `${token.json.token}\n`, { mode: 0o600 });
    customerEnv = { ...customerEnv, LIFEBOAT_TOKEN: token.json.token };

    writeFileSync(join(dir, 'bmc.pw'), `${bmc.record.password}\n`, { mode: 0o600 });
    const server = await lifeboat(
      ['servers', 'add', 'web-1', '--tenant', 'acme', '--mac', mac, '--bmc', bmc.record.url, '--bmc-user', bmc.record.user,
        '--bmc-password-file', join(dir, 'bmc.pw'), '--ssh-endpoint', `127.0.0.1:${sshPort}`, '--json'],
      adminEnv,
    );
    assert.equal(server.code, 0, server.stderr);
    assert.equal(server.json.state, 'active');
    assert.ok(!server.stdout.includes(bmc.record.password));
  });

  it('shows servers with their state, and only the tenant\'s own', async () => {
    const list = await lifeboat(['servers', 'list', '--json', '--token-file', join(dir, 'customer.token')], { ...customerEnv, LIFEBOAT_TOKEN: '' });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(list.json.servers.map((s: { name: string }) => s.name), ['web-1']);
    const show = await lifeboat(['servers', 'show', 'web-1', '--json'], customerEnv);
    assert.equal(show.json.state, 'active');
    const human = await lifeboat(['servers', 'list'], customerEnv);
    assert.match(human.stdout, /^NAME\s+TENANT\s+STATUS/);
    assert.match(human.stdout, /web-1\s+acme\s+Active/);
  });

  it('servers validate reaches the BMC (operator); a bad BMC record is refused at registration', async () => {
    const valid = await lifeboat(['servers', 'validate', 'web-1', '--json'], adminEnv);
    assert.equal(valid.code, 0, valid.stderr);
    assert.deepEqual(Object.keys(valid.json).sort(), ['driver', 'powerState', 'reachable', 'server']);
    assert.equal(valid.json.server, 'web-1');
    assert.equal(valid.json.reachable, true);
    assert.match(valid.json.powerState, /^(on|off)$/);
    const human = await lifeboat(['servers', 'validate', 'web-1'], adminEnv);
    assert.match(human.stdout, /^server web-1: redfish BMC reachable, power off$/m, 'the machine is off until a rescue boots it');
    const customer = await lifeboat(['servers', 'validate', 'web-1', '--json'], customerEnv);
    assert.equal(customer.code, 1);
    assert.equal(customer.json.code, 'SERVER_NOT_FOUND', 'a customer learns nothing of the BMC');
    const invalid = await lifeboat(['servers', 'add', 'web-x', '--tenant', 'acme', '--mac', '52:54:00:cc:00:99', '--bmc', 'ipmi://', '--json'], adminEnv);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.json.code, 'BMC_INVALID');
    assert.match(invalid.json.message, /bmc\.url/);
  });

  it('servers set-bmc changes a BMC\'s password, user or address (operator); the password never shows', async () => {
    writeFileSync(join(dir, 'new-bmc.pw'), 'bmc-cli-new-secret\n', { mode: 0o600 });
    const added = await lifeboat(['servers', 'add', 'web-b', '--tenant', 'acme', '--mac', '52:54:00:cc:00:0b', '--bmc', 'ipmi://127.0.0.1:6231', '--bmc-user', 'admin', '--json'], adminEnv);
    assert.equal(added.code, 0, added.stderr);
    const changed = await lifeboat(['servers', 'set-bmc', 'web-b', '--bmc-password-file', join(dir, 'new-bmc.pw'), '--bmc-user', 'root', '--json'], adminEnv);
    assert.equal(changed.code, 0, changed.stderr);
    assert.deepEqual(changed.json.bmc, { driver: 'ipmi', url: 'ipmi://127.0.0.1:6231', user: 'root' });
    assert.ok(!changed.stdout.includes('bmc-cli-new-secret'));
    const human = await lifeboat(['servers', 'set-bmc', 'web-b', '--bmc', 'redfish://127.0.0.1:1/redfish/v1/Systems/1'], adminEnv);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout.trim(), 'server web-b: BMC redfish://127.0.0.1:1/redfish/v1/Systems/1 (user root)');
    const nothing = await lifeboat(['servers', 'set-bmc', 'web-b', '--json'], adminEnv);
    assert.equal(nothing.code, 2);
    const both = await lifeboat(['servers', 'set-bmc', 'web-b', '--bmc-password-file', join(dir, 'new-bmc.pw'), '--remove-bmc-password'], adminEnv);
    assert.equal(both.code, 2);
    const customer = await lifeboat(['servers', 'set-bmc', 'web-b', '--bmc-user', 'x', '--json'], customerEnv);
    assert.equal(customer.code, 1);
    assert.equal(customer.json.code, 'SERVER_NOT_FOUND');
    const removed = await lifeboat(['servers', 'rm', 'web-b'], adminEnv);
    assert.equal(removed.code, 0, removed.stderr);
  });

  it('servers add --console registers a serial console; console log answers CONSOLE_LOG_NOT_FOUND before anything was recorded', async () => {
    const added = await lifeboat(['servers', 'add', 'web-c', '--tenant', 'acme', '--mac', '52:54:00:cc:00:0c', '--bmc', 'redfish://127.0.0.1:1/redfish/v1/Systems/1', '--bmc-user', 'u', '--console', 'tcp://127.0.0.1:7001', '--json'], adminEnv);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.console, 'tcp://127.0.0.1:7001');
    const human = await lifeboat(['servers', 'show', 'web-c'], customerEnv);
    assert.match(human.stdout, /^console:\s+tcp:\/\/127\.0\.0\.1:7001$/m);
    const bad = await lifeboat(['servers', 'add', 'web-d', '--tenant', 'acme', '--mac', '52:54:00:cc:00:0d', '--bmc', 'ipmi://127.0.0.1:6230', '--bmc-user', 'admin', '--console', 'ssh://127.0.0.1:22', '--json'], adminEnv);
    assert.equal(bad.code, 1);
    assert.equal(bad.json.code, 'CONSOLE_INVALID');
    const none = await lifeboat(['console', 'log', 'web-c', '--json'], customerEnv);
    assert.equal(none.code, 1);
    assert.equal(none.json.code, 'CONSOLE_LOG_NOT_FOUND');
    const foreign = await lifeboat(['console', 'log', 'web-c', '--session', 'nope'], customerEnv);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /SESSION_NOT_FOUND/);
    const removed = await lifeboat(['servers', 'rm', 'web-c'], adminEnv);
    assert.equal(removed.code, 0, removed.stderr);
  });

  it('fails with the error code and a non-zero exit', async () => {
    const missing = await lifeboat(['servers', 'show', 'nope', '--json'], customerEnv);
    assert.equal(missing.code, 1);
    assert.equal(missing.json.code, 'SERVER_NOT_FOUND');
    assert.match(missing.stderr, /SERVER_NOT_FOUND/);
    const notInRescue = await lifeboat(['rescue', 'exit', 'web-1'], customerEnv);
    assert.equal(notInRescue.code, 1);
    assert.match(notInRescue.stderr, /INVALID_STATE/);
    const usage = await lifeboat(['servers', 'add', 'x'], adminEnv);
    assert.equal(usage.code, 2);
    const unreachable = await lifeboat(['servers', 'list', '--json'], { ...customerEnv, LIFEBOAT_URL: 'http://127.0.0.1:1' });
    assert.equal(unreachable.code, 3);
    assert.equal(unreachable.json.code, 'UNREACHABLE');
  });

  it('rescue enter --wait returns once the rescue system is ready, with password, fingerprints and known_hosts', async () => {
    const entering = lifeboat(['rescue', 'enter', 'web-1', '--wait', '--json', '--expires-in', '2h'], customerEnv);
    // Play the server: netboot by MAC as iPXE would, then the agent's calls.
    const script = await waitFor('a rescue iPXE script', async () => {
      const text = await (await fetch(`${plane.url}/v1/boot/${mac.replace(/:/g, '-')}.ipxe`)).text();
      return text.includes('lifeboat.token=') ? text : undefined;
    });
    const serverId = /lifeboat\.server=(\S+)/.exec(script)![1]!;
    const bootToken = /lifeboat\.token=(\S+)/.exec(script)![1]!;
    // Someone else on the network (another loopback address) presents the credential first: refused, and an alert.
    assert.equal(await postFrom('127.0.0.2', `${plane.url}/v1/agent/redeem`, { serverId, bootToken }), 401);
    const redeem = await fetch(`${plane.url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId, bootToken }) });
    assert.equal(redeem.status, 200);
    const { agentToken, config } = (await redeem.json()) as { agentToken: string; config: { rootPasswordHash: string } };
    assert.match(config.rootPasswordHash, /^\$6\$/);
    const agent = (path: string, body: unknown) =>
      fetch(`${plane.url}/v1/agent/${path}`, { method: 'POST', headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await agent('events', { step: 'agent_started' })).status, 204);
    const rescueKey = keyPair('rescue_host_key');
    const fingerprint = execSyncQuiet('ssh-keygen', ['-lf', join(dir, 'rescue_host_key.pub')]).split(' ')[1]!;
    assert.equal((await agent('host-keys', { hostKeys: [{ type: 'ssh-ed25519', publicKey: rescueKey, fingerprint }] })).status, 200, 'the host certificates come back');
    assert.equal((await agent('ready', {})).status, 204);

    const entered = await entering;
    assert.equal(entered.code, 0, entered.stderr + entered.stdout);
    const doc = entered.json;
    assert.deepEqual(Object.keys(doc).filter((k) => ['server', 'state', 'sessionId', 'expiresAt', 'ssh'].includes(k)).sort(), ['expiresAt', 'server', 'sessionId', 'ssh', 'state']);
    assert.equal(doc.server, 'web-1');
    assert.equal(doc.state, 'rescue');
    assert.ok(doc.sessionId);
    assert.ok(Math.abs(Date.parse(doc.expiresAt) - Date.now() - 7_200_000) < 120_000);
    assert.equal(doc.ssh.host, '127.0.0.1');
    assert.equal(doc.ssh.port, sshPort);
    assert.equal(doc.ssh.user, 'root');
    assert.ok(doc.ssh.password.length >= 20);
    assert.deepEqual(doc.ssh.hostKeyFingerprints, [fingerprint]);
    assert.equal(doc.ssh.knownHosts, `[127.0.0.1]:${sshPort} ${rescueKey.split(' ').slice(0, 2).join(' ')}`, 'known_hosts text, ready to write');

    const shown = await lifeboat(['rescue', 'show', 'web-1', '--json'], customerEnv);
    assert.equal(shown.json.state, 'rescue');
    assert.equal(shown.json.ssh.password, undefined, 'the password is shown once');
    assert.equal(shown.json.agent.responding, true, 'the agent has just become ready');
    const human = await lifeboat(['rescue', 'show', 'web-1'], customerEnv);
    assert.match(human.stdout, /status:\s+Rescue/);
    assert.match(human.stdout, /agent:\s+responding/);
    assert.deepEqual(shown.json.alerts.map((a: { kind: string; address: string }) => [a.kind, a.address]), [['redeem_other_address', '127.0.0.2']], 'the refused redeem, in --json');
    assert.match(human.stdout, /ALERTS \(1\): requests for this rescue's boot were refused\n .*presented from 127\.0\.0\.2/);
    assert.match(human.stdout, new RegExp(`ssh -p ${sshPort} root@127.0.0.1`));

    const tasks = await lifeboat(['tasks', 'web-1', '--json'], customerEnv);
    const steps = Object.fromEntries(tasks.json.tasks[0].steps.map((s: { name: string; state: string }) => [s.name, s.state]));
    for (const step of ['validated', 'boot_device_set', 'power_cycled', 'ipxe_script_served', 'agent_started', 'host_keys_reported', 'ready']) {
      assert.equal(steps[step], 'completed', step);
    }
    const timeline = await lifeboat(['tasks', 'web-1'], customerEnv);
    assert.match(timeline.stdout, /✓ iPXE script served/);
  });

  it('rescue exit --wait shows progress and returns once the installed system answers', async () => {
    // The "installed system": a real sshd with its own host key on the server's SSH endpoint.
    keyPair('installed_host_key');
    mkdirSync('/run/sshd', { recursive: true });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', '/dev/null', '-p', String(sshPort), '-h', join(dir, 'installed_host_key'), '-o', 'ListenAddress=127.0.0.1', '-o', 'PidFile=none'], { stdio: 'ignore' });
    const exit = await lifeboat(['rescue', 'exit', 'web-1', '--wait'], customerEnv);
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stdout, /web-1: Active/);
    assert.match(exit.stderr, /✓ boot device set/);
    assert.match(exit.stderr, /✓ installed system answers/);
    const show = await lifeboat(['servers', 'show', 'web-1', '--json'], customerEnv);
    assert.equal(show.json.state, 'active');
    // The agent never answered leave_rescue: the BMC set the disk and cycled the power.
    assert.deepEqual(bmc.actions.slice(-3), ['boot device disk', 'power off', 'power on: disk']);
  });

  it('writes a dnsmasq proxy-DHCP configuration that dnsmasq accepts', async () => {
    const made = await lifeboat(['netboot', 'dnsmasq-config', '--boot-url', 'http://192.0.2.10:8080', '--interface', 'eth1', '--range', '192.0.2.0/24'], customerEnv);
    assert.equal(made.code, 0, made.stderr);
    writeFileSync(join(dir, 'dnsmasq.conf'), made.stdout);
    const check = spawnSync('dnsmasq', ['--test', `--conf-file=${join(dir, 'dnsmasq.conf')}`], { encoding: 'utf8' });
    assert.match(check.stdout + check.stderr, /syntax check OK/);
    const bad = await lifeboat(['netboot', 'dnsmasq-config', '--boot-url', 'http://x', '--interface', 'eth1', '--range', 'nonsense', '--json'], customerEnv);
    assert.equal(bad.code, 2);
    assert.equal(bad.json.code, 'BAD_REQUEST');
  });

  it('with SSH keys, no password exists', async () => {
    const publicKey = keyPair('customer_key');
    const entered = await lifeboat(['rescue', 'enter', 'web-1', '--ssh-key', join(dir, 'customer_key.pub'), '--json'], customerEnv);
    assert.equal(entered.code, 0, entered.stderr);
    assert.equal(entered.json.state, 'rescue_requested');
    assert.equal(entered.json.ssh.password, undefined);
    assert.ok(publicKey.startsWith('ssh-ed25519 '));
    const live = await lifeboat(['events', 'web-1', '--count', '1', '--json'], customerEnv);
    assert.equal(live.code, 0, live.stderr);
    const event = JSON.parse(live.stdout.trim().split('\n')[0]!);
    assert.equal(event.server.name, 'web-1');
    assert.notEqual(event.server.state, 'active');
    assert.equal(event.task.kind, 'enter_rescue');
  });

  it('revokes a token', async () => {
    const made = await lifeboat(['tokens', 'create', '--role', 'technician', '--json'], adminEnv);
    const technician = { ...adminEnv, LIFEBOAT_TOKEN: made.json.token };
    assert.equal((await lifeboat(['servers', 'list', '--json'], technician)).code, 0);
    assert.equal((await lifeboat(['tokens', 'revoke', made.json.id], adminEnv)).code, 0);
    const refused = await lifeboat(['servers', 'list', '--json'], technician);
    assert.equal(refused.code, 1);
    assert.equal(refused.json.code, 'UNAUTHORIZED');
  });
});

import { spawnSync } from 'node:child_process';
import { runLifeboat } from './run-cli.js';
function spawnSyncQuiet(command: string, args: string[]): number | null {
  return spawnSync(command, args, { stdio: 'ignore' }).status;
}
function execSyncQuiet(command: string, args: string[]): string {
  return spawnSync(command, args, { encoding: 'utf8' }).stdout;
}

/** POSTs JSON from a given local address (127.0.0.2: another machine as the control plane sees it); the status. */
function postFrom(localAddress: string, url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}
