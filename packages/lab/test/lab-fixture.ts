// Shared by the lab's VM tests: a lab in a temp dir, a boot server on loopback, real clients.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../src/cli.js';
import { labStatus } from '../src/lab.js';
import type { LabServerStatus } from '../src/lab.js';
import { waitUntil } from '../src/processes/processes.js';

const run = promisify(execFile);

/** A loopback HTTP server answering iPXE's `GET /boot.ipxe` with `script`, counting the fetches. */
export interface BootServer {
  /** The boot file URL as guests see it (10.0.2.2 is the host's loopback under user-mode networking). */
  readonly guestUrl: string;
  /** Fetches of /boot.ipxe so far: one per boot through iPXE. */
  fetches(): number;
  /** When each fetch came (ms since the epoch). */
  fetchTimes(): readonly number[];
  close(): Promise<void>;
}

export async function startBootServer(script: string): Promise<BootServer> {
  let count = 0;
  const times: number[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/boot.ipxe')) {
      count++;
      times.push(Date.now());
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(script);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    guestUrl: `http://10.0.2.2:${port}/boot.ipxe`,
    fetches: () => count,
    fetchTimes: () => times,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A temp lab directory, set as LIFEBOAT_LAB for `main`. */
export function useTempLab(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-'));
  process.env.LIFEBOAT_LAB = dir;
  return dir;
}

/** `lifeboat lab ...` in-process; throws when the exit code is not 0. */
export async function lab(...argv: string[]): Promise<void> {
  const code = await main(argv);
  if (code !== 0) throw new Error(`lifeboat lab ${argv.join(' ')} exited with ${code}`);
}

/** The status of the first server of the lab in `dir`. */
export function firstServer(dir: string): LabServerStatus {
  const server = labStatus(dir).servers[0];
  if (!server) throw new Error('the lab has no server');
  return server;
}

/** Pids of processes whose command line mentions `marker` (e.g. the lab dir): what `lab down` must leave none of. */
export function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** `ipmitool -I lanplus` against a server's BMC; the password goes through IPMI_PASSWORD, never argv. */
export async function ipmitool(server: LabServerStatus, ...args: string[]): Promise<string> {
  const { stdout } = await run(
    'ipmitool',
    ['-I', 'lanplus', '-C', '3', '-H', server.ipmi.host, '-p', String(server.ipmi.port), '-U', server.ipmi.user, '-E', ...args],
    { env: { ...process.env, IPMI_PASSWORD: server.ipmi.password }, timeout: 30_000 },
  );
  return stdout.trim();
}

/** DMTF's `redfishtool` against the lab's Redfish service (`-S Never`: plain HTTP on loopback). */
export async function redfishtool(server: LabServerStatus, ...args: string[]): Promise<string> {
  const url = new URL(server.redfish.url);
  // redfishtool takes the password only in argv; it is a lab-only credential of a temp lab.
  const { stdout } = await run('redfishtool', ['-r', url.host, '-S', 'Never', '-u', server.redfish.user, '-p', server.redfish.password, ...args], {
    timeout: 60_000,
  });
  return stdout.trim();
}

/** Whether `ssh` with the lab key logs in to the server and runs `true`. */
export async function sshAnswers(server: LabServerStatus): Promise<boolean> {
  if (!server.osLogin) return false;
  try {
    await run(
      'ssh',
      ['-i', server.osLogin.keyFile, '-p', String(server.ssh.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${server.osLogin.user}@${server.ssh.host}`, 'true'],
      { timeout: 15_000 },
    );
    return true;
  } catch {
    return false;
  }
}

/** Runs `command` as root on the server's installed system over SSH with the lab key; its stdout. */
export async function sshRun(server: LabServerStatus, command: string): Promise<string> {
  if (!server.osLogin) throw new Error(`${server.name} has no lab login`);
  const { stdout } = await run(
    'ssh',
    ['-i', server.osLogin.keyFile, '-p', String(server.ssh.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', `${server.osLogin.user}@${server.ssh.host}`, command],
    { timeout: 60_000 },
  );
  return stdout;
}

/** Polls until `check` holds; fails the test with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  if (!(await waitUntil(check, timeoutMs, 250))) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

/**
 * CPU seconds (user + system) the process has used: under TCG, what a boot costs on an idle core,
 * whatever else shares the machine.
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Stops the lab and removes its directory. */
export async function cleanUpLab(dir: string): Promise<void> {
  await main(['down']);
  rmSync(dir, { recursive: true, force: true });
}
