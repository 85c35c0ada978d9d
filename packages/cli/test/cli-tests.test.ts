/**
 * `lifeboat tests ...` against a running control plane, the agent played by the test through the
 * agent API: the JSON documents, progress on stderr, and the exit codes (0 passed, 4 failed, 1 error or
 * cancelled, 2 bad command line).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LifeboatClient } from '@lifeboat/core';
import { waitFor, type ControlPlaneProcess } from '@lifeboat/test-support';
import { runLifeboat, startCustomerPlane, startLifeboat } from './run-cli.js';



describe('lifeboat tests against a running control plane', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-tests-'));
  let plane: ControlPlaneProcess;
  let stop: (() => Promise<void>) | undefined;
  let env: NodeJS.ProcessEnv;
  let agentToken: string;
  const mac = '52:54:00:cc:00:21';

  const lifeboat = (args: string[]) => runLifeboat(args, env);

  const agent = async (method: string, path: string, body?: unknown): Promise<any> => {
    const response = await fetch(`${plane.url}/v1/agent/${path}`, {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.ok(response.ok, `${method} ${path}: ${response.status}`);
    return response.status === 204 ? undefined : response.json();
  };
  /** The next test the agent receives by its long poll. */
  const nextWork = () =>
    waitFor('hardware test work', async () => {
      const { jobs } = (await agent('GET', 'work?waitSeconds=1')) as { jobs: Array<{ id: string; kind: string; params: Record<string, unknown> }> };
      return jobs.find((j) => j.kind === 'hardware_test');
    }, 30_000, 10);

  before(async () => {
    let customer: LifeboatClient;
    ({ plane, env, customer, stop } = await startCustomerPlane(dir, mac));
    await customer.enterRescue('web-1', { sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test'] });
    // Play the server: netboot by MAC as iPXE would, then the agent up to ready.
    const script = await waitFor('a rescue iPXE script', async () => {
      const text = await (await fetch(`${plane.url}/v1/boot/${mac.replace(/:/g, '-')}.ipxe`)).text();
      return text.includes('lifeboat.token=') ? text : undefined;
    });
    const serverId = /lifeboat\.server=(\S+)/.exec(script)![1]!;
    const bootToken = /lifeboat\.token=(\S+)/.exec(script)![1]!;
    const redeem = await fetch(`${plane.url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId, bootToken }) });
    agentToken = ((await redeem.json()) as { agentToken: string }).agentToken;
    await agent('POST', 'ready', {});
  });
  after(async () => {
    await stop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tests run --wait --json prints the test and exits 0 when it passed', async () => {
    const running = lifeboat(['tests', 'run', 'web-1', 'smart', 'sda', '--wait', '--json']);
    const work = await nextWork();
    assert.deepEqual([work.params.kind, work.params.device, work.params.selfTest], ['smart', 'sda', 'short']);
    assert.deepEqual(await agent('POST', `work/${work.id}/progress`, { progress: 50, summary: 'self-test 50 %', output: 'SMART self-test\n' }), { cancel: false });
    await agent('POST', `work/${work.id}/result`, { state: 'completed', result: { status: 'passed', summary: 'overall health PASSED', result: { reallocatedSectors: 0 } } });
    const run = await running;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '', 'silent with --json');
    const { id, kind, device, status, progress, summary, result } = run.json;
    assert.deepEqual({ kind, device, status, progress, summary, result }, { kind: 'smart', device: 'sda', status: 'passed', progress: 100, summary: 'overall health PASSED', result: { reallocatedSectors: 0 } });
    assert.equal(typeof id, 'string');
    const shown = await lifeboat(['tests', 'show', 'web-1', id, '--output']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /status:\s+passed/);
    assert.match(shown.stdout, /SMART self-test/);
  });

  it('exits 4 on a failed test, still printing it', async () => {
    const running = lifeboat(['tests', 'run', 'web-1', 'readtest', 'sdb', '--wait', '--json']);
    const work = await nextWork();
    await agent('POST', `work/${work.id}/result`, { state: 'completed', result: { status: 'failed', summary: '12 unreadable sectors', result: { badSectors: 12 } } });
    const run = await running;
    assert.equal(run.code, 4, run.stderr);
    assert.deepEqual([run.json.status, run.json.summary], ['failed', '12 unreadable sectors']);
    assert.match(run.stderr, /TEST_FAILED: the readtest test failed: 12 unreadable sectors/);
  });

  it('shows progress on stderr, cancels a running test, and exits 1 with TEST_CANCELLED', async () => {
    const cli = startLifeboat(['tests', 'run', 'web-1', 'cpu', '--duration', '10m', '--wait'], env);
    const running = cli.result;
    const work = await nextWork();
    assert.equal(work.params.durationSeconds, 600);
    await agent('POST', `work/${work.id}/progress`, { progress: 25, summary: 'stress-ng 150 s of 600 s' });
    // The command shows the progress it sees; the cancel comes once it has shown this step.
    const progressLine = /\[#####\.+\]\s+25 %\s+running: stress-ng 150 s of 600 s/;
    await waitFor('the 25 % line on stderr', async () => progressLine.test(cli.stderr()) || undefined);
    const id = work.params.testId as string;
    const cancel = await lifeboat(['tests', 'cancel', 'web-1', id]);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /cancel requested/);
    const answer = await waitFor('the cancel answer', async () => ((await agent('POST', `work/${work.id}/progress`, { progress: 26 })) as { cancel: boolean }).cancel || undefined);
    assert.equal(answer, true);
    await agent('POST', `work/${work.id}/result`, { state: 'completed', result: { status: 'cancelled', summary: 'stopped after 160 s', result: null } });
    const run = await running;
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, progressLine);
    assert.match(run.stderr, /TEST_CANCELLED/);
    assert.match(run.stdout, /status:\s+cancelled/);
  });

  it('lists the history newest first, and refuses bad command lines and bad values', async () => {
    const queued = await lifeboat(['tests', 'run', 'web-1', 'memory', '--size', '256M', '--json']);
    assert.deepEqual([queued.code, queued.json.status, queued.json.params.sizeBytes], [0, 'queued', 268_435_456]);
    const list = await lifeboat(['tests', 'list', 'web-1', '--json']);
    assert.equal(list.code, 0);
    assert.deepEqual(list.json.tests.map((t: { kind: string }) => t.kind), ['memory', 'cpu', 'readtest', 'smart']);
    const human = await lifeboat(['tests', 'list', 'web-1']);
    assert.match(human.stdout, /^ID\s+KIND\s+DEVICE\s+STATUS/);
    const noDevice = await lifeboat(['tests', 'run', 'web-1', 'smart']);
    assert.equal(noDevice.code, 2);
    assert.match(noDevice.stderr, /needs a DEVICE/);
    const unknown = await lifeboat(['tests', 'run', 'web-1', 'burn']);
    assert.equal(unknown.code, 2);
    const tooLong = await lifeboat(['tests', 'run', 'web-1', 'cpu', '--duration', '25h', '--json']);
    assert.deepEqual([tooLong.code, tooLong.json.code], [1, 'BAD_REQUEST']);
    const missing = await lifeboat(['tests', 'show', 'web-1', 'nope', '--json']);
    assert.deepEqual([missing.code, missing.json.code], [1, 'TEST_NOT_FOUND']);
    const help = await lifeboat(['tests', 'run', '--help']);
    assert.match(help.stdout, /lifeboat tests run web-1 smart sda --wait/);
    assert.match(help.stdout, /exit 0 passed, 4 failed, 1 error or cancelled/);
  });
});
