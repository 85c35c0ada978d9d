/**
 * A real IPMI BMC for the driver tests: OpenIPMI's `ipmi_sim` on 127.0.0.1, with a chassis control
 * program that keeps power and boot device in files and logs every `set` it receives.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const chassisControl = `#!/bin/sh
# chassis-control DIR get|set PARM [VALUE] ... (the protocol of OpenIPMI's lanserv/bmc_chassis.c)
dir=$1; op=$2; shift 2
case $op in
get)
  for p in "$@"; do
    case $p in
      power) echo "power:$(cat "$dir/power" 2>/dev/null || echo 0)" ;;
      boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done ;;
set)
  while [ $# -gt 1 ]; do
    p=$1; v=$2; shift 2
    echo "$p $v" >> "$dir/sets.log"
    case $p in
      power) echo "$v" > "$dir/power" ;;
      shutdown) [ "$v" = 1 ] && echo 0 > "$dir/power" ;;
      reset) ;;
      boot) echo "$v" > "$dir/boot" ;;
      *) echo "Invalid parameter: $p"; exit 1 ;;
    esac
  done ;;
*) echo "Unknown operation: $op"; exit 1 ;;
esac
`;

/** A running ipmi_sim. */
export interface IpmiSim {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Every `set PARM VALUE` the chassis control program received, in order. */
  sets(): string[];
  /** Stops answering (ipmi_sim exits); the chassis state (power, boot device, log) is kept. */
  pause(): Promise<void>;
  /** Answers again on the same port, with a new password when given (as its administrator set it). */
  resume(options?: { password?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** A UDP port nothing is bound to right now. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

function udpBound(port: number): boolean {
  const wanted = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'utf8').split('\n').some((line) => line.trim().split(/\s+/)[1] === wanted);
}

/**
 * Starts ipmi_sim with user `admin` and the given password; resolves once its UDP port is bound.
 * `solDevice` (`tcp:127.0.0.1:PORT`) wires its Serial-over-LAN to a serial port exported on TCP.
 */
export async function startIpmiSim(password = 'lab-Passw0rd.1', options: { solDevice?: string } = {}): Promise<IpmiSim> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ipmi-'));
  const port = await freeUdpPort();
  const program = join(dir, 'chassis-control.sh');
  writeFileSync(program, chassisControl);
  chmodSync(program, 0o755);
  const auths = 'none md2 md5 straight';
  const writeConfig = (userPassword: string): void =>
    writeFileSync(
      join(dir, 'lan.conf'),
      [
        'name "lifeboat-test"',
        'set_working_mc 0x20',
        '  startlan 1',
        `    addr 127.0.0.1 ${port}`,
        '    priv_limit admin',
        `    allowed_auths_callback ${auths}`,
        `    allowed_auths_user ${auths}`,
        `    allowed_auths_operator ${auths}`,
        `    allowed_auths_admin ${auths}`,
        '    guid 0123456789abcdef0123456789abcdef',
        '  endlan',
        `  chassis_control "${program} ${dir}"`,
        ...(options.solDevice === undefined ? [] : [`  sol "${options.solDevice}" 115200`]),
        `  user 2 true "admin" "${userPassword}" admin 10 ${auths}`,
        '',
      ].join('\n'),
    );
  writeConfig(password);
  writeFileSync(
    join(dir, 'bmc.emu'),
    ['mc_setbmc 0x20', 'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr', 'mc_enable 0x20', ''].join('\n'),
  );
  mkdirSync(join(dir, 'state'));
  let child: ChildProcess | undefined;
  let exited = true;

  /** Starts ipmi_sim and waits until its UDP port is bound. */
  const launch = async (): Promise<void> => {
    const started = spawn('ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    child = started;
    exited = false;
    started.once('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!udpBound(port)) {
      if (exited || Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(`ipmi_sim did not bind UDP port ${port}`);
      }
      await sleep(50);
    }
  };
  const halt = async (): Promise<void> => {
    if (child && !exited) {
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await gone;
    }
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let current = password;
  return {
    port,
    user: 'admin',
    get password() {
      return current;
    },
    sets: () => {
      try {
        return readFileSync(join(dir, 'sets.log'), 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
    pause: halt,
    async resume(next = {}) {
      await halt();
      if (next.password !== undefined) {
        current = next.password;
        writeConfig(current);
      }
      await launch();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
