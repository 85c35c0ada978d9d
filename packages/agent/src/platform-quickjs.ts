/**
 * The agent's platform in the rescue image: QuickJS's `os` and `std` modules. Programs run through
 * fork/exec with pipes read by the event loop; HTTP goes through curl, configured on its standard
 * input so that no token or body ever appears in a process's argv.
 */
import * as os from 'os';
import * as std from 'std';
import { utf8Decode, utf8Encode } from './encoding.js';
import { LifeboatError } from '@lifeboat/core/errors';
import { dyingWithAgent, killGraceMs, runChecked } from './platform.js';
import type { DeviceHold, HttpRequest, HttpResponse, Platform, RunOptions, RunResult } from './platform.js';

const EEXIST = 17;
const ENOENT = 2;
const EBUSY = 16;
const SIGKILL = 9;

function failure(what: string, path: string, result: number): Error {
  return new Error(`${what} ${path}: ${std.strerror(-result)}`);
}

/** Status of a wait(2) word: the exit code, or 128 + the signal. */
function exitStatus(word: number): number {
  const signal = word & 0x7f;
  return signal === 0 ? (word >> 8) & 0xff : 128 + signal;
}

/** util-linux's setpriv on PATH, or null. */
const setpriv = (std.getenv('PATH') ?? '/usr/bin:/bin')
  .split(':')
  .filter(Boolean)
  .map((dir) => `${dir}/setpriv`)
  .find((path) => os.stat(path)[1] === 0) ?? null;

/** Runs a program to its end, reading its output through the event loop. */
function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const input = os.pipe();
    const output = os.pipe();
    const errors = os.pipe();
    if (!input || !output || !errors) {
      for (const fd of [...(input ?? []), ...(output ?? []), ...(errors ?? [])]) os.close(fd);
      reject(new Error(`${program}: cannot create pipes`));
      return;
    }
    // Every program dies with the agent: above all curl, whose work long poll would otherwise take the
    // next work for a dead agent (dyingWithAgent).
    const argv = dyingWithAgent(options.processGroup ? ['setsid', program, ...args] : [program, ...args], setpriv);
    const pid = os.exec(argv, { block: false, usePath: true, stdin: input[0], stdout: output[1], stderr: errors[1] });
    os.close(input[0]);
    os.close(output[1]);
    os.close(errors[1]);
    if (pid < 0) {
      for (const fd of [input[1], output[0], errors[0]]) os.close(fd);
      reject(failure('cannot start', program, pid));
      return;
    }
    const stdin = std.fdopen(input[1], 'w');
    if (stdin) {
      if (options.stdin) stdin.puts(options.stdin);
      stdin.close();
    } else os.close(input[1]);

    const chunks: [Uint8Array[], Uint8Array[]] = [[], []];
    const openFds = new Set<number>();
    let status: number | undefined;
    let exitedAt = 0;
    // setsid(1) execs in place (the child of qjs is no group leader): pid is the group's id.
    const removeStop =
      options.stop?.onStop(() => {
        if (!options.processGroup) {
          os.kill(pid, os.SIGTERM);
          return;
        }
        os.kill(-pid, os.SIGTERM);
        os.setTimeout(() => {
          if (status === undefined) os.kill(-pid, SIGKILL);
        }, killGraceMs);
      }) ?? (() => undefined);
    const closeFd = (fd: number): void => {
      if (!openFds.delete(fd)) return;
      os.setReadHandler(fd, null);
      os.close(fd);
    };
    const finish = (): void => {
      for (const fd of [...openFds]) closeFd(fd);
      removeStop();
      const text = (parts: Uint8Array[]): string => {
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let offset = 0;
        for (const p of parts) {
          all.set(p, offset);
          offset += p.length;
        }
        return utf8Decode(all);
      };
      resolve({ status: status as number, stdout: text(chunks[0]), stderr: text(chunks[1]) });
    };
    [output[0], errors[0]].forEach((fd, i) => {
      openFds.add(fd);
      const buffer = new ArrayBuffer(65536);
      const onReadable = (): void => {
        const n = os.read(fd, buffer, 0, buffer.byteLength);
        if (n > 0) {
          const chunk = new Uint8Array(buffer.slice(0, n));
          chunks[i as 0 | 1].push(chunk);
          // QuickJS serves one ready descriptor per turn of its loop, the first in registration order:
          // a program that always has output (memtester) would starve the others (a curl beside it,
          // whose output was then given up on). Registering again puts this one last: round robin.
          if (openFds.has(fd)) {
            os.setReadHandler(fd, null);
            os.setReadHandler(fd, onReadable);
          }
          options.onOutput?.(utf8Decode(chunk), i === 0 ? 'stdout' : 'stderr');
        }
        else {
          closeFd(fd);
          if (status !== undefined && openFds.size === 0) finish();
        }
      };
      os.setReadHandler(fd, onReadable);
    });
    // The exit is polled: a daemon (sshd) may keep a copy of the pipes for a moment after its parent
    // exited, so output still open half a second after the exit is given up on.
    let interval = 5;
    const poll = (): void => {
      if (status === undefined) {
        const [done, word] = os.waitpid(pid, os.WNOHANG);
        if (done === pid) {
          status = exitStatus(word);
          exitedAt = Date.now();
        }
      }
      if (status !== undefined && (openFds.size === 0 || Date.now() - exitedAt > 500)) {
        finish();
        return;
      }
      interval = Math.min(interval * 2, 50);
      os.setTimeout(poll, interval);
    };
    os.setTimeout(poll, interval);
  });
}

/** A value inside double quotes in a curl config file. */
function curlQuoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

/** Longest body written into curl's configuration itself (its limit is 100 KiB a line, quoted). */
const inlineBodyChars = 32 * 1024;

/**
 * The curl config line of a body, and what to close after the call. A body goes in an anonymous file
 * (mode 0600, unlinked at once) that curl reads through this process's /proc/PID/fd: curl 7.88
 * (bookworm, the image's) refuses a config line over 100 KiB ("cannot read config"), which a test's
 * output or an inventory exceeds, and argv would show it to every user. Without a temporary file
 * (no writable /tmp), a short body still goes inline.
 */
function bodyConfig(body: string): { line: string; close(): void } {
  const error: { errno?: number } = {};
  const file = std.tmpfile(error);
  if (!file) {
    if (body.length <= inlineBodyChars) return { line: `data-raw = ${curlQuoted(body)}`, close: () => undefined };
    throw new Error(`cannot create a file for the request body: ${std.strerror(error.errno ?? 0)}`);
  }
  file.puts(body);
  file.flush();
  return { line: `data-binary = ${curlQuoted(`@/proc/${quickjsPlatform.pid()}/fd/${file.fileno()}`)}`, close: () => void file.close() };
}

async function http(request: HttpRequest): Promise<HttpResponse> {
  const body = request.body === undefined ? null : bodyConfig(request.body);
  const config = [
    `url = ${curlQuoted(request.url)}`,
    `request = ${curlQuoted(request.method)}`,
    ...Object.entries(request.headers).map(([name, value]) => `header = ${curlQuoted(`${name}: ${value}`)}`),
    ...(body === null ? [] : [body.line]),
    `max-time = ${request.timeoutSeconds}`,
    'connect-timeout = 10',
    'noproxy = "*"',
    'silent',
    'show-error',
    'write-out = "\\n%{http_code}"',
  ];
  let result: RunResult;
  try {
    result = await run('curl', ['--disable', '--config', '-'], { stdin: `${config.join('\n')}\n`, ...(request.stop ? { stop: request.stop } : {}) });
  } finally {
    body?.close();
  }
  if (request.stop?.stopped) throw request.stop.reason;
  if (result.status !== 0) throw new Error(result.stderr.trim() || `curl exited with status ${result.status}`);
  const cut = result.stdout.lastIndexOf('\n');
  const status = Number(result.stdout.slice(cut + 1));
  if (!Number.isInteger(status) || status < 100) throw new Error(`curl gave no HTTP status (${result.stdout.slice(cut + 1)})`);
  return { status, body: result.stdout.slice(0, cut) };
}

export const quickjsPlatform: Platform = {
  runtime: 'quickjs',
  setpriv,
  env: (name) => std.getenv(name),
  pid: () => Number(os.readlink('/proc/self')[0]),
  async readText(path) {
    const error: { errno?: number } = {};
    const file = std.open(path, 'r', error);
    if (!file) throw failure('cannot read', path, -(error.errno ?? 0));
    try {
      return file.readAsString();
    } finally {
      file.close();
    }
  },
  async writeText(path, text, mode) {
    const fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode);
    if (fd < 0) throw failure('cannot write', path, fd);
    try {
      const bytes = utf8Encode(text);
      for (let offset = 0; offset < bytes.length; ) {
        const n = os.write(fd, bytes.buffer as ArrayBuffer, offset, bytes.length - offset);
        if (n <= 0) throw failure('cannot write', path, n);
        offset += n;
      }
    } finally {
      os.close(fd);
    }
    const [stat] = os.stat(path);
    if ((stat.mode & 0o7777) !== mode) await quickjsPlatform.chmod(path, mode);
  },
  appendTextSync(path, text) {
    const file = std.open(path, 'a');
    if (!file) throw new Error(`cannot append to ${path}`);
    file.puts(text);
    file.close();
  },
  exists: (path) => os.stat(path)[1] === 0,
  async mkdir(path, mode) {
    let prefix = '';
    for (const part of path.split('/').filter(Boolean)) {
      prefix += `/${part}`;
      const result = os.mkdir(prefix, mode);
      if (result < 0 && result !== -EEXIST) throw failure('cannot create', prefix, result);
    }
  },
  async readdir(path) {
    const [names, error] = os.readdir(path);
    if (error !== 0) throw failure('cannot list', path, -error);
    return names.filter((n) => n !== '.' && n !== '..');
  },
  async owner(path) {
    const [stat, error] = os.stat(path);
    return error === 0 ? { uid: stat.uid, gid: stat.gid } : null;
  },
  async chown(path, uid, gid) {
    await runChecked(quickjsPlatform, 'chown', [`${uid}:${gid}`, path]);
  },
  async chmod(path, mode) {
    await runChecked(quickjsPlatform, 'chmod', [mode.toString(8), path]);
  },
  async rename(from, to) {
    const result = os.rename(from, to);
    if (result < 0) throw failure('cannot rename', `${from} to ${to}`, result);
  },
  run,
  async holdDevice(path): Promise<DeviceHold> {
    const fd = os.open(path, os.O_RDONLY | os.O_EXCL);
    if (fd === -EBUSY) throw new LifeboatError('DEVICE_BUSY', `${path} is in use (mounted, swap, or held by RAID/LVM or another check)`);
    if (fd === -ENOENT) throw new LifeboatError('DEVICE_NOT_FOUND', `${path} does not exist`);
    if (fd < 0) throw failure('cannot open', path, fd);
    let open = true;
    return {
      release() {
        if (open) os.close(fd);
        open = false;
      },
    };
  },
  http,
  sleep: (ms, stop) =>
    new Promise((resolve) => {
      const timer = os.setTimeout(() => {
        remove();
        resolve();
      }, ms);
      const remove = stop?.onStop(() => {
        os.clearTimeout(timer);
        resolve();
      }) ?? (() => undefined);
    }),
  kill: (pid, signal) => os.kill(pid, signal) === 0,
  onSignal: (name, handler) => os.signal(name === 'SIGTERM' ? os.SIGTERM : os.SIGINT, handler),
  writeStdout(text) {
    std.out.puts(text);
    std.out.flush();
  },
  exit: (code) => std.exit(code),
};
