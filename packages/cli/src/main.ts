/**
 * `lifeboat`: the command line of Lifeboat. Talks HTTP to the control plane (LIFEBOAT_URL, default
 * http://127.0.0.1:8080) with an API token (LIFEBOAT_TOKEN, or --token-file, or the operator token the
 * control plane wrote in `$LIFEBOAT_DATA/admin.token` on this machine). `serve` runs the control plane
 * in-process; `lab` and `image` are delegated to their packages. Every command takes `--json`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, ControlPlane, exitCodes } from './client.js';
import { block, stepLine, table, taskBlock, type TaskView } from './format.js';

const usage = `Usage: lifeboat COMMAND [options] [--json]

  serve [--data DIR] [--database URL] [--listen HOST:PORT] [...]   run the control plane (serve --help)
  tenants add NAME [--email ADDR] | tenants list
  tokens create --tenant NAME --role customer|technician|operator | tokens revoke ID
  servers add NAME --tenant T --mac MAC [--mac MAC] --bmc URL [--bmc-user U] [--bmc-password-file F]
                   [--ssh-endpoint HOST:PORT] [--profile P]...
  servers list | servers show NAME | servers rm NAME
  rescue enter NAME [--profile linux] [--ssh-key FILE]... [--email ADDR] [--expires-in DURATION] [--wait]
  rescue exit NAME [--wait]
  rescue show NAME
  rescue extend NAME --expires-in DURATION
  tasks NAME
  events [NAME]   live changes of servers (Server-Sent Events), one line (or JSON document) each
  netboot dnsmasq-config --boot-url URL --interface IF --range NET/PREFIX [--tftp-root DIR]
  lab ...     the lab of simulated servers (lifeboat lab --help)
  image ...   the rescue image builder (lifeboat image --help)

Environment: LIFEBOAT_URL (default http://127.0.0.1:8080), LIFEBOAT_TOKEN (or --token-file FILE;
default: $LIFEBOAT_DATA/admin.token when readable). Exit codes: 0 done, 1 refused by the control plane,
2 bad command line, 3 control plane unreachable, 4 --wait ended in a failed state.
`;

type Values = Record<string, string | boolean | string[] | undefined>;

const common = {
  json: { type: 'boolean' },
  'token-file': { type: 'string' },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

interface Output {
  readonly json: boolean;
  /** Writes the command's result: the JSON document, or the human text. */
  result(document: unknown, human: string): void;
  /** Progress for humans (stderr); silent with --json. */
  progress(line: string): void;
}

function parse(argv: readonly string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: { ...common, ...options }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (error) {
    throw new CliError('USAGE', (error as Error).message, exitCodes.usage);
  }
}

function one(positionals: readonly string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new CliError('USAGE', `expected one ${what}`, exitCodes.usage);
  return positionals[0];
}

function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new CliError('USAGE', `--${name} is required`, exitCodes.usage);
  return value;
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]!.trim();
  } catch (error) {
    throw new CliError('USAGE', `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, exitCodes.usage);
  }
}

function tokenFor(values: Values, env: NodeJS.ProcessEnv): string | undefined {
  if (typeof values['token-file'] === 'string') return readSecretFile(values['token-file'], 'token file');
  if (env.LIFEBOAT_TOKEN) return env.LIFEBOAT_TOKEN.trim();
  const adminFile = join(resolve(env.LIFEBOAT_DATA ?? 'data'), 'admin.token');
  if (existsSync(adminFile)) {
    try {
      return readFileSync(adminFile, 'utf8').trim();
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function clientFor(values: Values, env: NodeJS.ProcessEnv): ControlPlane {
  const url = typeof values.url === 'string' ? values.url : (env.LIFEBOAT_URL ?? 'http://127.0.0.1:8080');
  return new ControlPlane(url, tokenFor(values, env));
}

const path = (name: string) => encodeURIComponent(name);

interface RescueView {
  server: string;
  state: string;
  status: string;
  reason: string | null;
  sessionId: string | null;
  expiresAt: string | null;
  taskId?: string;
  ssh: { host: string | null; port: number | null; user: string; password?: string; hostKeyFingerprints: string[]; knownHosts: string[] };
  agent?: { lastSeenAt: string | null; responding: boolean | null };
}

interface ServerView {
  name: string;
  tenant: string;
  macs: string[];
  bmc: { driver: string; url: string; user: string };
  sshEndpoint: string | null;
  profiles: string[];
  state: string;
  status: string;
  reason: string | null;
}

/**
 * The document `rescue enter/show/exit --json` prints (the contract of issue 3, plus status and reason).
 * `knownHosts` is the text of a known_hosts file here (one line per host key), ready to write as is;
 * the HTTP API gives the same lines as an array.
 */
function rescueDocument(view: RescueView) {
  return {
    server: view.server,
    state: view.state,
    status: view.status,
    reason: view.reason,
    sessionId: view.sessionId,
    expiresAt: view.expiresAt,
    ssh: {
      host: view.ssh.host,
      port: view.ssh.port,
      user: view.ssh.user,
      ...(view.ssh.password === undefined ? {} : { password: view.ssh.password }),
      hostKeyFingerprints: view.ssh.hostKeyFingerprints,
      knownHosts: view.ssh.knownHosts.join('\n'),
    },
    agent: view.agent ?? { lastSeenAt: null, responding: null },
  };
}

/** The agent line of `rescue show`: only in rescue, where it is expected to answer. */
function agentText(agent: RescueView['agent']): string | null {
  if (!agent || agent.responding === null) return null;
  const seen = agent.lastSeenAt ? `last heartbeat ${agent.lastSeenAt}` : 'no heartbeat yet';
  return agent.responding
    ? `responding (${seen})`
    : `NOT RESPONDING (${seen}): the rescue system may have crashed, been rebooted or lost its network; check the serial console, or exit and enter rescue again`;
}

function rescueText(view: RescueView): string {
  const ssh = view.ssh;
  const login = ssh.host ? `ssh ${ssh.port && ssh.port !== 22 ? `-p ${ssh.port} ` : ''}${ssh.user}@${ssh.host}` : null;
  const lines = [
    block([
      ['server', view.server],
      ['status', view.status + (view.reason ? ` (${view.reason})` : '')],
      ['session', view.sessionId],
      ['expires', view.expiresAt],
      ['agent', agentText(view.agent)],
      ['ssh', login],
      ['password', ssh.password ? `${ssh.password}   (shown once: it is not stored in clear)` : null],
    ]),
  ];
  if (ssh.hostKeyFingerprints.length > 0) lines.push('host key fingerprints:', ...ssh.hostKeyFingerprints.map((f) => `  ${f}`));
  if (ssh.knownHosts.length > 0) lines.push('known_hosts lines:', ...ssh.knownHosts.map((l) => `  ${l}`));
  return lines.join('\n');
}

/** Polls the session and its newest task, printing steps as they complete, until a final state. */
async function waitFor(api: ControlPlane, name: string, out: Output, goal: string, failures: readonly string[], taskId: string | undefined): Promise<RescueView> {
  const printed = new Set<string>();
  let unreachableSince: number | undefined;
  for (;;) {
    let view: RescueView;
    let tasks: TaskView[];
    try {
      view = await api.request<RescueView>('GET', `/v1/servers/${path(name)}/rescue`);
      ({ tasks } = await api.request<{ tasks: TaskView[] }>('GET', `/v1/servers/${path(name)}/tasks`));
      unreachableSince = undefined;
    } catch (error) {
      // A control plane being restarted resumes its jobs: keep waiting for a minute.
      if (!(error instanceof CliError) || error.code !== 'UNREACHABLE') throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > 60_000) throw error;
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    const task = tasks.find((t) => t.id === taskId) ?? tasks[0];
    if (task) {
      for (const step of task.steps) {
        const key = `${task.id}:${step.name}:${step.state}`;
        if ((step.state === 'completed' || step.state === 'failed') && !printed.has(key)) {
          printed.add(key);
          out.progress(stepLine(task, step));
        }
      }
    }
    if (view.state === goal) return view;
    if (failures.includes(view.state)) {
      const code = view.state === 'exit_failed' ? 'EXIT_FAILED' : 'RESCUE_FAILED';
      throw new CliError(code, `${view.server} is ${view.status}: ${view.reason ?? 'no reason given'}`, exitCodes.failed);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function delegate(pkg: 'lab' | 'image', argv: string[]): Promise<number> {
  const url = new URL(`../../${pkg}/src/cli.ts`, import.meta.url);
  let module: { main?: (argv: string[]) => Promise<number> };
  try {
    module = (await import(url.href)) as typeof module;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(`${pkg}/src/cli.ts`)) {
      throw new CliError('NOT_INSTALLED', `lifeboat ${pkg} is not available: packages/${pkg}/src/cli.ts is missing`, exitCodes.usage);
    }
    throw error;
  }
  if (typeof module.main !== 'function') throw new CliError('NOT_INSTALLED', `packages/${pkg}/src/cli.ts does not export main(argv)`, exitCodes.usage);
  return module.main(argv);
}

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  const json = rest.includes('--json');
  const out: Output = {
    json,
    result(document, human) {
      process.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : human ? `${human}\n` : '');
    },
    progress(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(usage);
        return command === undefined ? exitCodes.usage : exitCodes.ok;
      case 'serve': {
        const { main: serve } = await import('@lifeboat/control-plane');
        return await serve(rest);
      }
      case 'lab':
      case 'image':
        return await delegate(command, rest);
      case 'tenants':
        return await tenants(rest, env, out);
      case 'tokens':
        return await tokens(rest, env, out);
      case 'servers':
        return await servers(rest, env, out);
      case 'rescue':
        return await rescue(rest, env, out);
      case 'tasks':
        return await tasks(rest, env, out);
      case 'netboot':
        return await netboot(rest, out);
      case 'events':
        return await events(rest, env, out);
      default:
        throw new CliError('USAGE', `unknown command ${command} (lifeboat --help)`, exitCodes.usage);
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    if (json) process.stdout.write(`${JSON.stringify({ code: error.code, message: error.message }, null, 2)}\n`);
    process.stderr.write(`lifeboat: ${error.code}: ${error.message}\n`);
    if (error.exitCode === exitCodes.usage && error.code === 'USAGE') process.stderr.write('(lifeboat --help for the commands)\n');
    return error.exitCode;
  }
}

async function tenants(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { email: { type: 'string' } });
  const api = clientFor(values, env);
  if (sub === 'add') {
    const name = one(positionals, 'tenant name');
    const tenant = await api.request<{ id: string; name: string }>('POST', '/v1/tenants', { name, ...(values.email ? { email: values.email } : {}) });
    out.result(tenant, `tenant ${tenant.name} added`);
    return 0;
  }
  if (sub === 'list') {
    const answer = await api.request<{ tenants: Array<{ name: string; email: string | null }> }>('GET', '/v1/tenants');
    out.result(answer, table(['NAME', 'EMAIL'], answer.tenants.map((t) => [t.name, t.email ?? ''])));
    return 0;
  }
  throw new CliError('USAGE', 'expected: tenants add NAME | tenants list', exitCodes.usage);
}

async function tokens(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'revoke') {
    const { values, positionals } = parse(rest, {});
    const id = one(positionals, 'token id');
    await clientFor(values, env).request('DELETE', `/v1/tokens/${path(id)}`);
    out.result({ id, revoked: true }, `token ${id} revoked`);
    return 0;
  }
  if (sub !== 'create') throw new CliError('USAGE', 'expected: tokens create --tenant NAME --role customer|technician|operator | tokens revoke ID', exitCodes.usage);
  const { values } = parse(rest, { tenant: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } });
  const role = required(values, 'role');
  if (!['customer', 'technician', 'operator'].includes(role)) throw new CliError('USAGE', '--role must be customer, technician or operator', exitCodes.usage);
  if (role === 'customer' && typeof values.tenant !== 'string') throw new CliError('USAGE', 'a customer token needs --tenant', exitCodes.usage);
  const answer = await clientFor(values, env).request<{ token: string; id: string; role: string; tenant: string | null }>('POST', '/v1/tokens', {
    role,
    ...(typeof values.tenant === 'string' ? { tenant: values.tenant } : {}),
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
  });
  out.result(answer, answer.token);
  return 0;
}

async function servers(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    tenant: { type: 'string' },
    mac: { type: 'string', multiple: true },
    bmc: { type: 'string' },
    'bmc-user': { type: 'string' },
    'bmc-password-file': { type: 'string' },
    'ssh-endpoint': { type: 'string' },
    profile: { type: 'string', multiple: true },
  });
  const api = clientFor(values, env);
  switch (sub) {
    case 'add': {
      const name = one(positionals, 'server name');
      const macs = (values.mac as string[] | undefined) ?? [];
      if (macs.length === 0) throw new CliError('USAGE', '--mac is required (repeat it for several NICs)', exitCodes.usage);
      const body = {
        name,
        tenant: required(values, 'tenant'),
        macs,
        bmc: {
          url: required(values, 'bmc'),
          ...(typeof values['bmc-user'] === 'string' ? { user: values['bmc-user'] } : {}),
          ...(typeof values['bmc-password-file'] === 'string' ? { password: readSecretFile(values['bmc-password-file'], 'BMC password file') } : {}),
        },
        ...(typeof values['ssh-endpoint'] === 'string' ? { sshEndpoint: values['ssh-endpoint'] } : {}),
        ...(values.profile ? { profiles: values.profile as string[] } : {}),
      };
      const server = await api.request<ServerView>('POST', '/v1/servers', body);
      out.result(server, `server ${server.name} added (${server.status})`);
      return 0;
    }
    case 'list': {
      const { servers: list } = await api.request<{ servers: ServerView[] }>('GET', '/v1/servers');
      out.result(
        { servers: list },
        table(['NAME', 'TENANT', 'STATUS', 'MACS', 'BMC', 'SSH'], list.map((s) => [s.name, s.tenant, s.status, s.macs.join(','), s.bmc.url, s.sshEndpoint ?? ''])),
      );
      return 0;
    }
    case 'show': {
      const server = await api.request<ServerView>('GET', `/v1/servers/${path(one(positionals, 'server name'))}`);
      out.result(
        server,
        block([
          ['name', server.name],
          ['tenant', server.tenant],
          ['status', server.status + (server.reason ? ` (${server.reason})` : '')],
          ['state', server.state],
          ['macs', server.macs.join(', ')],
          ['bmc', `${server.bmc.url}${server.bmc.user ? ` (user ${server.bmc.user})` : ''}`],
          ['ssh', server.sshEndpoint],
          ['profiles', server.profiles.join(', ')],
        ]),
      );
      return 0;
    }
    case 'rm': {
      const name = one(positionals, 'server name');
      await api.request('DELETE', `/v1/servers/${path(name)}`);
      out.result({ server: name, removed: true }, `server ${name} removed`);
      return 0;
    }
    default:
      throw new CliError('USAGE', 'expected: servers add|list|show|rm', exitCodes.usage);
  }
}

async function rescue(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, {
    profile: { type: 'string' },
    'ssh-key': { type: 'string', multiple: true },
    email: { type: 'string' },
    'expires-in': { type: 'string' },
    wait: { type: 'boolean' },
  });
  const api = clientFor(values, env);
  switch (sub) {
    case 'enter': {
      const name = one(positionals, 'server name');
      const sshKeys = ((values['ssh-key'] as string[] | undefined) ?? []).flatMap((file) => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          throw new CliError('USAGE', `cannot read SSH key ${file}: ${(error as NodeJS.ErrnoException).code ?? ''}`, exitCodes.usage);
        }
        return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
      });
      const answer = await api.request<RescueView>('POST', `/v1/servers/${path(name)}/rescue`, {
        ...(typeof values.profile === 'string' ? { profile: values.profile } : {}),
        ...(sshKeys.length > 0 ? { sshKeys } : {}),
        ...(typeof values.email === 'string' ? { email: values.email } : {}),
        ...(typeof values['expires-in'] === 'string' ? { expiresIn: values['expires-in'] } : {}),
      });
      let view = answer;
      if (values.wait) {
        out.progress(`Entering rescue on ${name}: boot timeline`);
        const started = Date.now();
        view = { ...(await waitFor(api, name, out, 'rescue', ['rescue_failed', 'exit_failed', 'active', 'exiting_rescue'], answer.taskId)) };
        out.progress(`Rescue ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (answer.ssh.password !== undefined) view = { ...view, ssh: { ...view.ssh, password: answer.ssh.password } };
      }
      out.result(rescueDocument(view), rescueText(view));
      return 0;
    }
    case 'exit': {
      const name = one(positionals, 'server name');
      const answer = await api.request<RescueView>('POST', `/v1/servers/${path(name)}/rescue/exit`);
      let view = answer;
      if (values.wait) {
        out.progress(`Leaving rescue on ${name}`);
        view = await waitFor(api, name, out, 'active', ['exit_failed', 'rescue_failed'], answer.taskId);
      }
      out.result(rescueDocument(view), `${view.server}: ${view.status}`);
      return 0;
    }
    case 'show': {
      const view = await api.request<RescueView>('GET', `/v1/servers/${path(one(positionals, 'server name'))}/rescue`);
      out.result(rescueDocument(view), rescueText(view));
      return 0;
    }
    case 'extend': {
      const name = one(positionals, 'server name');
      const view = await api.request<RescueView>('POST', `/v1/servers/${path(name)}/rescue/extend`, { expiresIn: required(values, 'expires-in') });
      out.result(rescueDocument(view), `${view.server}: rescue now ends at ${view.expiresAt}`);
      return 0;
    }
    default:
      throw new CliError('USAGE', 'expected: rescue enter|exit|show|extend NAME', exitCodes.usage);
  }
}

async function tasks(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = one(positionals, 'server name');
  const answer = await clientFor(values, env).request<{ server: string; tasks: TaskView[] }>('GET', `/v1/servers/${path(name)}/tasks`);
  out.result(answer, answer.tasks.length === 0 ? `no tasks on ${name}` : answer.tasks.map(taskBlock).join('\n\n'));
  return 0;
}

async function netboot(argv: readonly string[], out: Output): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'dnsmasq-config') throw new CliError('USAGE', 'expected: netboot dnsmasq-config --boot-url URL --interface IF --range NET/PREFIX', exitCodes.usage);
  const { values } = parse(rest, { 'boot-url': { type: 'string' }, interface: { type: 'string' }, range: { type: 'string' }, 'tftp-root': { type: 'string' } });
  const { dnsmasqConfig, LifeboatError } = await import('@lifeboat/control-plane');
  let text: string;
  try {
    text = dnsmasqConfig({
      bootUrl: required(values, 'boot-url'),
      interface: required(values, 'interface'),
      range: required(values, 'range'),
      ...(typeof values['tftp-root'] === 'string' ? { tftpRoot: values['tftp-root'] } : {}),
    });
  } catch (error) {
    if (error instanceof LifeboatError) throw new CliError(error.code, error.message, exitCodes.usage);
    throw error;
  }
  out.result({ config: text }, text.replace(/\n$/, ''));
  return 0;
}

/** Follows `GET /v1/events` until interrupted (or, with `--count N`, until N events arrived). */
async function events(argv: readonly string[], env: NodeJS.ProcessEnv, out: Output): Promise<number> {
  const { values, positionals } = parse(argv, { count: { type: 'string' } });
  if (positionals.length > 1) throw new CliError('USAGE', 'expected: events [NAME]', exitCodes.usage);
  const limit = typeof values.count === 'string' ? Number(values.count) : Infinity;
  if (!(limit > 0)) throw new CliError('USAGE', '--count must be a positive number', exitCodes.usage);
  const query = positionals[0] === undefined ? '' : `?server=${encodeURIComponent(positionals[0])}`;
  let seen = 0;
  await clientFor(values, env).stream(`/v1/events${query}`, (event, data) => {
    if (event !== 'server') return true;
    const { server, task } = JSON.parse(data) as { server: ServerView; task: TaskView | null };
    const step = task ? [...task.steps].reverse().find((s) => s.state !== 'pending' && s.state !== 'skipped') : undefined;
    if (out.json) process.stdout.write(`${JSON.stringify({ server, task })}\n`);
    else process.stdout.write(`${new Date().toISOString()}  ${server.name}  ${server.status}${server.reason ? ` (${server.reason})` : ''}${step ? `  ${step.title}: ${step.state}` : ''}\n`);
    seen++;
    return seen < limit;
  });
  return 0;
}
