/**
 * A stand-in for a rescue system's desktop, made of the real parts the `windows` rescue runs: a host of
 * its own (a network namespace with a veth link to this one), OpenSSH's sshd on its address, and
 * TigerVNC's `Xtigervnc` on 127.0.0.1:5900 inside it (nothing else reaches that port, as in the rescue),
 * with an xterm on its screen. The control plane reaches the desktop exactly as it reaches a rescue's:
 * SSH to the host's address, a forward to 127.0.0.1:5900 allowed by the `authorized_keys` line of its
 * desktop key. Needs root (network namespaces), sshd, Xtigervnc and xterm (scripts/debian-packages.txt).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { desktopVncPort } from '@lifeboat/core';
import { waitFor } from './wait.js';

/** A running desktop host. */
export interface DesktopHost {
  /** `ADDRESS:22`: the host's sshd, as a server's `sshEndpoint`. */
  readonly sshEndpoint: string;
  /** The sshd's host key, as the agent reports it (`POST /v1/agent/host-keys`). */
  readonly hostKeys: Array<{ type: string; publicKey: string; fingerprint: string }>;
  /** The X display of the desktop (`:N`), for programs run with {@link DesktopHost.run}. */
  readonly display: string;
  /** Replaces root's `authorized_keys` on the host with these lines. */
  authorize(lines: readonly string[]): void;
  /** Runs a program inside the host (its network namespace, `DISPLAY` set); its status and output. */
  run(program: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string };
  /** Everything the host's programs printed so far. */
  output(): string;
  /** Stops its programs, removes the namespace and its files. */
  close(): Promise<void>;
}

function ip(args: readonly string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.status}`}`);
}

/** A /30 of 10.213.0.0/16 that no interface of this namespace uses. */
function freeSubnet(): number {
  const used = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout;
  for (;;) {
    const block = randomInt(0, 16384);
    if (!used.includes(`10.213.${block >> 6}.${(block & 63) * 4 + 1}/`)) return block;
  }
}

/** A display number with no X server (no lock file, no socket). */
function freeDisplay(): number {
  for (;;) {
    const n = randomInt(40, 400);
    if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
  }
}

/** Starts a desktop host; `xterm: false` leaves its screen empty. */
export async function startDesktopHost(options: { xterm?: boolean; geometry?: string } = {}): Promise<DesktopHost> {
  const id = randomBytes(3).toString('hex');
  const namespace = `lbdesk-${id}`;
  const block = freeSubnet();
  const prefix = `10.213.${block >> 6}.${(block & 63) * 4}`;
  const hostAddress = prefix.replace(/\.\d+$/, (last) => `.${Number(last.slice(1)) + 1}`);
  const address = prefix.replace(/\.\d+$/, (last) => `.${Number(last.slice(1)) + 2}`);
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-desktop-host-'));
  const children: ChildProcess[] = [];
  let output = '';
  const displayNumber = freeDisplay();
  const display = `:${displayNumber}`;

  const inside = (program: string, args: readonly string[], name: string): ChildProcess => {
    const child = spawn('ip', ['netns', 'exec', namespace, program, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, DISPLAY: display },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output += `[${name}] ${chunk.toString()}`;
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };

  const close = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    spawnSync('ip', ['netns', 'del', namespace]);
    rmSync(`/tmp/.X${displayNumber}-lock`, { force: true });
    rmSync(`/tmp/.X11-unix/X${displayNumber}`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    ip(['netns', 'add', namespace]);
    ip(['link', 'add', `lbd-${id}h`, 'type', 'veth', 'peer', 'name', `lbd-${id}n`]);
    ip(['link', 'set', `lbd-${id}n`, 'netns', namespace]);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', `lbd-${id}h`]);
    ip(['link', 'set', `lbd-${id}h`, 'up']);
    ip(['-n', namespace, 'addr', 'add', `${address}/30`, 'dev', `lbd-${id}n`]);
    ip(['-n', namespace, 'link', 'set', `lbd-${id}n`, 'up']);
    ip(['-n', namespace, 'link', 'set', 'lo', 'up']);

    const hostKeyFile = join(dir, 'ssh_host_ed25519_key');
    const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKeyFile], { encoding: 'utf8' });
    if (keygen.status !== 0) throw new Error(`ssh-keygen: ${keygen.stderr}`);
    const publicKey = readFileSync(`${hostKeyFile}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const fingerprint = spawnSync('ssh-keygen', ['-l', '-f', `${hostKeyFile}.pub`], { encoding: 'utf8' }).stdout.split(/\s+/)[1] ?? '';
    writeFileSync(join(dir, 'authorized_keys'), '', { mode: 0o600 });
    // The rescue's sshd settings that matter here: keys only, forwarding as authorized_keys allows it.
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `ListenAddress ${address}:22`,
        `HostKey ${hostKeyFile}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'AllowTcpForwarding yes',
        'X11Forwarding no',
        '',
      ].join('\n'),
    );
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    inside('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], 'sshd');
    // As the windows rescue starts it (packages/image/src/assets/start-desktop): no blacklist of 127.0.0.1.
    inside('Xtigervnc', [display, '-rfbport', String(desktopVncPort), '-localhost', '-SecurityTypes', 'None', '-BlacklistTimeout', '0', '-geometry', options.geometry ?? '1024x640', '-depth', '24', '-AlwaysShared', '-desktop', 'Lifeboat test desktop'], 'vnc');

    const probe = (port: number, at: string) => spawnSync('ip', ['netns', 'exec', namespace, 'bash', '-c', `exec 3<>/dev/tcp/${at}/${port}`]).status === 0;
    await waitFor('the desktop host\'s sshd and VNC server', async () => {
      for (const child of children) if (child.exitCode !== null) throw new Error(`a program of the desktop host exited:\n${output}`);
      return probe(22, address) && probe(desktopVncPort, '127.0.0.1');
    }, 20_000);
    if (options.xterm !== false) {
      inside('xterm', ['-geometry', '80x20+24+24', '-title', 'rescue', '-e', 'bash', '--norc', '--noprofile'], 'xterm');
    }

    return {
      sshEndpoint: `${address}:22`,
      hostKeys: [{ type: publicKey.split(' ')[0]!, publicKey, fingerprint }],
      display,
      authorize: (lines) => writeFileSync(join(dir, 'authorized_keys'), lines.map((l) => `${l}\n`).join(''), { mode: 0o600 }),
      run: (program, args) => {
        const result = spawnSync('ip', ['netns', 'exec', namespace, program, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', DISPLAY: display, HOME: dir } });
        return { status: result.status, stdout: result.stdout, stderr: result.stderr };
      },
      output: () => output,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
