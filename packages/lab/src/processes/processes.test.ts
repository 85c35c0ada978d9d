import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isProcessAlive, processesNaming, signal, stopProcess, waitUntil } from './processes.js';

/** Starts `sh -c SCRIPT ARGS...` in its own session, as the lab starts ipmi_sim and the Redfish service. */
function detachedShell(script: string, ...args: string[]): number {
  const child = spawn('/bin/sh', ['-c', script, ...args], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid!;
}

/** Pids of the live members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return fields[0] !== 'Z' && Number(fields[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test('processesNaming finds a lab program by the directory its command line names, and nothing else', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-procs-'));
  const pids = [
    detachedShell('sleep 300; :', `${dir}/servers/lab-1/qemu.pid`), // names the dir: found
    detachedShell('sleep 300; :', dir), // the dir itself as an argument: found
    detachedShell('sleep 300; :', `${dir}2/servers/lab-1/qemu.pid`), // another dir with the same prefix
  ];
  t.after(() => {
    for (const pid of pids) signal(-pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await waitUntil(() => pids.every((pid) => isProcessAlive(pid, '')), 5_000, 20);
  // The shells keep their argv ([/bin/sh, -c, script, ARG]); their sleeps ([sleep, 300]) name no dir.
  assert.deepEqual(processesNaming(dir, ['no-such-program']), []);
  const found = processesNaming(dir, ['/bin/sh']).map((p) => p.pid);
  assert.deepEqual(found.sort((a, b) => a - b), pids.slice(0, 2).sort((a, b) => a - b));
});

test('stopProcess with group stops the leader and what it started (a chassis-control command in flight)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-procs-'));
  const pidfile = join(dir, 'ipmi_sim.pid');
  // The leader ignores nothing special; its child is a second process of the same group.
  const leader = detachedShell('sleep 300 & wait', 'fake-bmc-marker');
  t.after(() => {
    signal(-leader, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  writeFileSync(pidfile, `${leader}\n`);
  assert.ok(await waitUntil(() => groupMembers(leader).length === 2, 5_000, 20), 'the shell and its sleep run');
  assert.equal(await stopProcess(pidfile, 'fake-bmc-marker', { group: true, timeoutMs: 5_000 }), true);
  assert.ok(await waitUntil(() => groupMembers(leader).length === 0, 5_000, 20), `left: ${groupMembers(leader).join(' ')}`);
});
