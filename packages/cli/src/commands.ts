/**
 * What the API commands do: each calls the typed client of core and prints the answer, as a JSON
 * document with `--json` (the contract outside scripts rely on) or as text for humans.
 */
import { readFileSync } from 'node:fs';
import {
  LifeboatError,
  deviceTestKinds,
  dnsmasqConfig,
  finishedTestStatuses,
  hardwareTestKinds,
  isEnteringRescue,
  isFailedState,
  profileHasDesktop,
  roles,
  type DoctorFinding,
  type DoctorFixView,
  type HardwareTestKind,
  type HardwareTestView,
  type IncidentState,
  type IncidentView,
  type LifeboatClient,
  type BmcChange,
  type NewServer,
  type RescueState,
  type RescueView,
  type TaskView,
} from '@lifeboat/core';
import { clientFor, readSecretFile, type CommonOptions, type Output } from './context.js';
import { CliError, exitCodes, usageError } from './errors.js';
import { block, stepLine, table, taskBlock } from './format.js';

/** What an action gets besides its arguments. */
export interface Run {
  readonly env: NodeJS.ProcessEnv;
  readonly out: Output;
}

function required(value: string | undefined, name: string): string {
  if (typeof value !== 'string' || value === '') throw usageError(`--${name} is required`);
  return value;
}

// tenants

export async function tenantsAdd(name: string, options: CommonOptions & { email?: string }, { env, out }: Run): Promise<void> {
  const tenant = await clientFor(options, env).addTenant({ name, ...(options.email ? { email: options.email } : {}) });
  out.result(tenant, `tenant ${tenant.name} added`);
}

export async function tenantsList(options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listTenants();
  out.result(answer, table(['NAME', 'EMAIL'], answer.tenants.map((t) => [t.name, t.email ?? ''])));
}

// tokens

export async function tokensCreate(options: CommonOptions & { tenant?: string; role?: string; name?: string }, { env, out }: Run): Promise<void> {
  const role = required(options.role, 'role');
  if (!(roles as readonly string[]).includes(role)) throw usageError('--role must be customer, technician or operator');
  if (role === 'customer' && typeof options.tenant !== 'string') throw usageError('a customer token needs --tenant');
  const answer = await clientFor(options, env).createToken({
    role: role as (typeof roles)[number],
    ...(typeof options.tenant === 'string' ? { tenant: options.tenant } : {}),
    ...(typeof options.name === 'string' ? { name: options.name } : {}),
  });
  out.result(answer, answer.token);
}

export async function tokensRevoke(id: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  await clientFor(options, env).revokeToken(id);
  out.result({ id, revoked: true }, `token ${id} revoked`);
}

// users

export interface UsersAddOptions extends CommonOptions {
  role?: string;
  tenant?: string;
  email?: string;
  passwordFile?: string;
}

/** `users add NAME`: the generated password (without `--password-file`) is printed this once. */
export async function usersAdd(name: string, options: UsersAddOptions, { env, out }: Run): Promise<void> {
  const role = required(options.role, 'role');
  if (!(roles as readonly string[]).includes(role)) throw usageError('--role must be customer, technician or operator');
  if (role === 'customer' && typeof options.tenant !== 'string') throw usageError('a customer needs --tenant');
  if (role !== 'customer' && typeof options.tenant === 'string') throw usageError(`a ${role} acts on every tenant: give no --tenant`);
  const answer = await clientFor(options, env).addUser({
    name,
    role: role as (typeof roles)[number],
    ...(typeof options.tenant === 'string' ? { tenant: options.tenant } : {}),
    ...(typeof options.email === 'string' ? { email: options.email } : {}),
    ...(typeof options.passwordFile === 'string' ? { password: readSecretFile(options.passwordFile, 'password file') } : {}),
  });
  const who = `user ${answer.user.name} added (${answer.user.role}${answer.user.tenant ? ` of ${answer.user.tenant}` : ''})`;
  out.result(answer, answer.password === undefined ? who : `${who}\npassword (shown this once): ${answer.password}`);
}

export async function usersList(options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listUsers();
  out.result(answer, table(['NAME', 'ROLE', 'TENANT', 'EMAIL'], answer.users.map((u) => [u.name, u.role, u.tenant ?? '', u.email ?? ''])));
}

export async function usersRemove(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  await clientFor(options, env).removeUser(name);
  out.result({ user: name, removed: true }, `user ${name} removed`);
}

// SSH keys

export async function keysAdd(name: string, options: CommonOptions & { publicKey?: string; tenant?: string }, { env, out }: Run): Promise<void> {
  const file = required(options.publicKey, 'public-key');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read public key ${file}: ${(error as NodeJS.ErrnoException).code ?? ''}`);
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length !== 1) throw usageError(`${file} holds ${lines.length} keys: give a file with one public key (the .pub file)`);
  const key = await clientFor(options, env).addKey({ name, publicKey: lines[0] ?? '', ...(typeof options.tenant === 'string' ? { tenant: options.tenant } : {}) });
  out.result(key, `key ${key.name} added: ${key.type} ${key.fingerprint}${key.tenant === null ? ' (staff key: every server)' : ''}`);
}

export async function keysList(options: CommonOptions & { tenant?: string }, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listKeys(typeof options.tenant === 'string' ? options.tenant : undefined);
  out.result(answer, table(['NAME', 'TYPE', 'FINGERPRINT', 'COMMENT'], answer.keys.map((k) => [k.name, `${k.type} (${k.bits})`, k.fingerprint, k.comment])));
}

export async function keysRemove(name: string, options: CommonOptions & { tenant?: string }, { env, out }: Run): Promise<void> {
  await clientFor(options, env).removeKey(name, typeof options.tenant === 'string' ? options.tenant : undefined);
  out.result({ name, removed: true }, `key ${name} removed`);
}

// ca

/** `lifeboat ca show`: the `@cert-authority` line alone (so that `>> ~/.ssh/known_hosts` adds it), or the CA as JSON. */
export async function caShow(options: CommonOptions, { env, out }: Run): Promise<void> {
  const ca = await clientFor(options, env).sshHostCa();
  out.result(ca, ca.knownHostsLine);
}

// console

export async function consoleInfo(options: CommonOptions, { env, out }: Run): Promise<void> {
  const info = await clientFor(options, env).consoleInfo();
  const text = info.listen === null
    ? 'the SSH console gateway is off (lifeboat serve --console-listen HOST:PORT)'
    : block([
        ['listen', info.listen],
        ['host key', info.hostKeyFingerprint],
        ['known_hosts', info.knownHostsLine],
        ['attach', info.sshCommandExample],
        ['writer seat', `${info.sshCommandExample ?? ''} -- --write`],
        ['detach', '~. at the start of a line'],
      ]);
  out.result(info, text);
}

// servers

export interface ServersAddOptions extends CommonOptions {
  tenant?: string;
  mac?: string[];
  bmc?: string;
  bmcUser?: string;
  bmcPasswordFile?: string;
  sshEndpoint?: string;
  console?: string;
  profile?: string[];
}

export async function serversAdd(name: string, options: ServersAddOptions, { env, out }: Run): Promise<void> {
  const macs = options.mac ?? [];
  if (macs.length === 0) throw usageError('--mac is required (repeat it for several NICs)');
  const body: NewServer = {
    name,
    tenant: required(options.tenant, 'tenant'),
    macs,
    bmc: {
      url: required(options.bmc, 'bmc'),
      ...(typeof options.bmcUser === 'string' ? { user: options.bmcUser } : {}),
      ...(typeof options.bmcPasswordFile === 'string' ? { password: readSecretFile(options.bmcPasswordFile, 'BMC password file') } : {}),
    },
    ...(typeof options.sshEndpoint === 'string' ? { sshEndpoint: options.sshEndpoint } : {}),
    ...(typeof options.console === 'string' ? { console: options.console } : {}),
    ...(options.profile ? { profiles: options.profile } : {}),
  };
  const server = await clientFor(options, env).addServer(body);
  out.result(server, `server ${server.name} added (${server.status})`);
}

export async function serversList(options: CommonOptions, { env, out }: Run): Promise<void> {
  const { servers } = await clientFor(options, env).listServers();
  out.result(
    { servers },
    table(['NAME', 'TENANT', 'STATUS', 'MACS', 'BMC', 'SSH'], servers.map((s) => [s.name, s.tenant, s.status, s.macs.join(','), s.bmc.url, s.sshEndpoint ?? ''])),
  );
}

export async function serversShow(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const server = await clientFor(options, env).getServer(name);
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
      ['console', server.console ?? (server.bmc.driver === 'ipmi' ? 'BMC Serial-over-LAN' : 'none')],
      ['profiles', server.profiles.join(', ')],
    ]),
  );
}

export async function serversRemove(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  await clientFor(options, env).removeServer(name);
  out.result({ server: name, removed: true }, `server ${name} removed`);
}

/** `servers validate NAME`: the BMC answered; a BMC failure is the control plane's error (exit 1 with its code). */
export async function serversValidate(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).validateServer(name);
  out.result(answer, `server ${answer.server}: ${answer.driver} BMC reachable, power ${answer.powerState}`);
}

export interface ServersSetBmcOptions extends CommonOptions {
  bmc?: string;
  bmcUser?: string;
  bmcPasswordFile?: string;
  removeBmcPassword?: boolean;
}

/** `servers set-bmc NAME`: the BMC moved or its credentials changed; a job retrying against it uses them at its next attempt. */
export async function serversSetBmc(name: string, options: ServersSetBmcOptions, { env, out }: Run): Promise<void> {
  if (typeof options.bmcPasswordFile === 'string' && options.removeBmcPassword === true) throw usageError('--bmc-password-file and --remove-bmc-password cannot be used together');
  const change: BmcChange = {
    ...(typeof options.bmc === 'string' ? { url: options.bmc } : {}),
    ...(typeof options.bmcUser === 'string' ? { user: options.bmcUser } : {}),
    ...(typeof options.bmcPasswordFile === 'string' ? { password: readSecretFile(options.bmcPasswordFile, 'BMC password file') } : {}),
    ...(options.removeBmcPassword === true ? { password: null } : {}),
  };
  if (Object.keys(change).length === 0) throw usageError('nothing to change: give --bmc, --bmc-user, --bmc-password-file or --remove-bmc-password');
  const server = await clientFor(options, env).updateBmc(name, change);
  out.result(server, `server ${server.name}: BMC ${server.bmc.url}${server.bmc.user ? ` (user ${server.bmc.user})` : ''}${change.password !== undefined ? ', password changed' : ''}`);
}

// rescue

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
    // Added by issue 16: the rescue's profile (linux, windows), null without a session.
    profile: view.profile ?? null,
    expiresAt: view.expiresAt,
    ssh: {
      host: view.ssh.host,
      port: view.ssh.port,
      user: view.ssh.user,
      ...(view.ssh.password === undefined ? {} : { password: view.ssh.password }),
      hostKeyFingerprints: view.ssh.hostKeyFingerprints,
      knownHosts: view.ssh.knownHosts.join('\n'),
      // Added by issue 15: the provider's host CA line, which trusts this rescue and every later one.
      ...(view.ssh.certAuthority === undefined ? {} : { certAuthority: view.ssh.certAuthority }),
    },
    agent: view.agent ?? { lastSeenAt: null, responding: null },
    // Added by issue 14: refused requests for this rescue's boot (someone else on the provisioning network).
    alerts: view.alerts ?? [],
  };
}

/** The agent line of `rescue show`: only in rescue, where it is expected to answer. */
function agentText(agent: RescueView['agent'] | undefined): string | null {
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
      ['profile', view.sessionId === null ? null : view.profile],
      ['expires', view.expiresAt],
      ['agent', agentText(view.agent)],
      ['ssh', login],
      ['password', ssh.password ? `${ssh.password}   (shown once: it is not stored in clear)` : null],
    ]),
  ];
  const alerts = view.alerts ?? [];
  if (alerts.length > 0) lines.push(`ALERTS (${alerts.length}): requests for this rescue's boot were refused`, ...alerts.map((a) => `  ${a.at}  ${a.message}`));
  if (ssh.hostKeyFingerprints.length > 0) lines.push('host key fingerprints:', ...ssh.hostKeyFingerprints.map((f) => `  ${f}`));
  if (ssh.knownHosts.length > 0) lines.push('known_hosts lines:', ...ssh.knownHosts.map((l) => `  ${l}`));
  if (ssh.certAuthority !== undefined) lines.push(`or, once for every rescue (the host keys are signed by the provider's CA; lifeboat ca show):`, `  ${ssh.certAuthority}`);
  if (profileHasDesktop(view.profile) && view.state === 'rescue') lines.push(`desktop: lifeboat desktop ${view.server} (the web console's Desktop page, a VNC relay or an SSH tunnel)`);
  return lines.join('\n');
}

/**
 * Polls the session and its newest task, printing steps as they complete, until the goal state, or
 * a state `failed` says the wait is over (exit 4).
 */
async function waitFor(api: LifeboatClient, name: string, out: Output, goal: RescueState, failed: (state: RescueState) => boolean, taskId: string | undefined): Promise<RescueView> {
  const printed = new Set<string>();
  let unreachableSince: number | undefined;
  for (;;) {
    let view: RescueView;
    let tasks: TaskView[];
    try {
      view = await api.getRescue(name);
      ({ tasks } = await api.listTasks(name));
      unreachableSince = undefined;
    } catch (error) {
      // A control plane being restarted resumes its jobs: keep waiting for a minute.
      if (!(error instanceof LifeboatError) || error.code !== 'UNREACHABLE') throw error;
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
    if (failed(view.state)) {
      const code = view.state === 'exit_failed' ? 'EXIT_FAILED' : 'RESCUE_FAILED';
      throw new CliError(code, `${view.server} is ${view.status}: ${view.reason ?? 'no reason given'}`, exitCodes.failed);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface RescueEnterOptions extends CommonOptions {
  profile?: string;
  sshKey?: string[];
  key?: string[];
  email?: string;
  expiresIn?: string;
  wait?: boolean;
}

export async function rescueEnter(name: string, options: RescueEnterOptions, { env, out }: Run): Promise<void> {
  const sshKeys = (options.sshKey ?? []).flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw usageError(`cannot read SSH key ${file}: ${(error as NodeJS.ErrnoException).code ?? ''}`);
    }
    return text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  });
  const api = clientFor(options, env);
  const answer = await api.enterRescue(name, {
    ...(typeof options.profile === 'string' ? { profile: options.profile } : {}),
    ...(sshKeys.length > 0 ? { sshKeys } : {}),
    ...(options.key !== undefined && options.key.length > 0 ? { keys: options.key } : {}),
    ...(typeof options.email === 'string' ? { email: options.email } : {}),
    ...(typeof options.expiresIn === 'string' ? { expiresIn: options.expiresIn } : {}),
  });
  let view: RescueView = answer;
  if (options.wait) {
    out.progress(`Entering rescue on ${name}: boot timeline`);
    const started = Date.now();
    // Anything but the way into rescue ends the wait: a failure, or an exit asked meanwhile.
    view = await waitFor(api, name, out, 'rescue', (state) => !isEnteringRescue(state), answer.taskId);
    out.progress(`Rescue ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (answer.ssh.password !== undefined) view = { ...view, ssh: { ...view.ssh, password: answer.ssh.password } };
  }
  out.result(rescueDocument(view), rescueText(view));
}

export async function rescueExit(name: string, options: CommonOptions & { wait?: boolean }, { env, out }: Run): Promise<void> {
  const api = clientFor(options, env);
  const answer = await api.exitRescue(name);
  let view: RescueView = answer;
  if (options.wait) {
    out.progress(`Leaving rescue on ${name}`);
    view = await waitFor(api, name, out, 'active', isFailedState, answer.taskId);
  }
  out.result(rescueDocument(view), `${view.server}: ${view.status}`);
}

export async function rescueShow(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const view = await clientFor(options, env).getRescue(name);
  out.result(rescueDocument(view), rescueText(view));
}

export async function rescueExtend(name: string, options: CommonOptions & { expiresIn?: string }, { env, out }: Run): Promise<void> {
  const view = await clientFor(options, env).extendRescue(name, { expiresIn: required(options.expiresIn, 'expires-in') });
  out.result(rescueDocument(view), `${view.server}: rescue now ends at ${view.expiresAt}`);
}

// incidents

function incidentBlock(incident: IncidentView): string {
  return block([
    ['id', incident.id],
    ['server', `${incident.server} (${incident.tenant})`],
    ['state', incident.state],
    ['title', incident.title],
    ['opened', incident.createdAt],
    ['acknowledged', incident.acknowledgedAt],
    ['resolved', incident.resolvedAt],
    ['resolution', incident.resolution],
  ]);
}

export async function incidentsOpen(name: string, options: CommonOptions & { message?: string; attach?: string[] }, { env, out }: Run): Promise<void> {
  const client = clientFor(options, env);
  const created = await client.reportIncident(name, { message: required(options.message, 'message'), ...(options.attach ? { tests: options.attach } : {}) });
  const { incident } = await client.getIncident(created.id);
  out.result(incident, `incident ${incident.id} opened on ${incident.server}${incident.tests.length > 0 ? ` with ${incident.tests.length} test result${incident.tests.length > 1 ? 's' : ''}` : ''}`);
}

export async function incidentsList(options: CommonOptions & { state?: IncidentState; server?: string }, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listIncidents({
    ...(options.state ? { state: options.state } : {}),
    ...(typeof options.server === 'string' ? { server: options.server } : {}),
  });
  out.result(
    answer,
    answer.incidents.length === 0
      ? 'no incidents'
      : table(
          ['ID', 'STATE', 'SERVER', 'TENANT', 'OPENED', 'TESTS', 'COMMENTS', 'TITLE'],
          answer.incidents.map((i) => [i.id, i.state, i.server, i.tenant, i.createdAt, String(i.tests.length), String(i.comments), i.title]),
        ),
  );
}

export async function incidentsShow(id: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).getIncident(id);
  const { incident, comments } = answer;
  const parts = [incidentBlock(incident), '', incident.message];
  if (incident.tests.length > 0)
    parts.push('', 'Attached test results:', ...incident.tests.map((t) => `  ${t.id}  ${t.kind}${t.device ? ` ${t.device}` : ''}  ${t.status}${t.summary ? `  ${t.summary}` : ''}`));
  if (comments.length > 0) parts.push('', 'Comments:', ...comments.map((c) => `  ${c.createdAt}  ${c.author} (${c.role}): ${c.message.replace(/\n/g, '\n    ')}`));
  out.result(answer, parts.join('\n'));
}

export async function incidentsComment(id: string, options: CommonOptions & { message?: string }, { env, out }: Run): Promise<void> {
  const comment = await clientFor(options, env).commentIncident(id, { message: required(options.message, 'message') });
  out.result(comment, `comment added to incident ${id}`);
}

export async function incidentsAcknowledge(id: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const incident = await clientFor(options, env).updateIncident(id, { state: 'acknowledged' });
  out.result(incident, `incident ${incident.id} acknowledged`);
}

export async function incidentsResolve(id: string, options: CommonOptions & { message?: string }, { env, out }: Run): Promise<void> {
  const incident = await clientFor(options, env).resolveIncident(id, typeof options.message === 'string' ? { message: options.message } : {});
  out.result(incident, `incident ${incident.id} resolved`);
}

// tasks, events, netboot

export async function tasks(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listTasks(name);
  out.result(answer, answer.tasks.length === 0 ? `no tasks on ${name}` : answer.tasks.map(taskBlock).join('\n\n'));
}

/** Follows `GET /v1/events` until interrupted (or, with `--count N`, until N events arrived). */
export async function events(name: string | undefined, options: CommonOptions & { count?: string }, { env, out }: Run): Promise<void> {
  const limit = typeof options.count === 'string' ? Number(options.count) : Infinity;
  if (!(limit > 0)) throw usageError('--count must be a positive number');
  let seen = 0;
  for await (const { server, task } of clientFor(options, env).events(name === undefined ? {} : { server: name })) {
    const step = task ? [...task.steps].reverse().find((s) => s.state !== 'pending' && s.state !== 'skipped') : undefined;
    if (out.json) out.line(JSON.stringify({ server, task }));
    else out.line(`${new Date().toISOString()}  ${server.name}  ${server.status}${server.reason ? ` (${server.reason})` : ''}${step ? `  ${step.title}: ${step.state}` : ''}`);
    seen++;
    if (seen >= limit) return;
  }
}

export async function netbootDnsmasqConfig(options: CommonOptions & { bootUrl?: string; interface?: string; range?: string; tftpRoot?: string }, { out }: Run): Promise<void> {
  let text: string;
  try {
    text = dnsmasqConfig({
      bootUrl: required(options.bootUrl, 'boot-url'),
      interface: required(options.interface, 'interface'),
      range: required(options.range, 'range'),
      ...(typeof options.tftpRoot === 'string' ? { tftpRoot: options.tftpRoot } : {}),
    });
  } catch (error) {
    if (error instanceof LifeboatError && !(error instanceof CliError)) throw new CliError(error.code, error.message, exitCodes.usage);
    throw error;
  }
  out.result({ config: text }, text.replace(/\n$/, ''));
}

// hardware tests (issue 11)

/** The document `tests run/show --json` prints: id, kind, device, status, progress, summary, result (then the rest of the test). */
function testDocument(test: HardwareTestView) {
  return {
    id: test.id,
    kind: test.kind,
    device: test.device,
    status: test.status,
    progress: test.progress,
    summary: test.summary,
    result: test.result,
    server: test.server,
    origin: test.origin,
    params: test.params,
    createdAt: test.createdAt,
    startedAt: test.startedAt,
    endedAt: test.endedAt,
  };
}

function testText(test: HardwareTestView): string {
  const params = test.params;
  return block([
    ['test', test.id],
    ['server', test.server],
    ['kind', test.kind + (test.device ? ` ${test.device}` : '')],
    ['status', `${test.status}${finishedTestStatuses.has(test.status) ? '' : ` (${Math.floor(test.progress)} %)`}`],
    ['summary', test.summary],
    ['duration', params.durationSeconds === null ? null : `${params.durationSeconds}s`],
    ['size', params.sizeBytes === null ? null : `${params.sizeBytes} bytes`],
    ['repair', params.repair ? 'yes' : null],
    ['self-test', params.selfTest],
    ['started from', test.origin === 'ssh' ? 'SSH (rescue-tests)' : 'API'],
    ['created', test.createdAt],
    ['started', test.startedAt],
    ['ended', test.endedAt],
    ['result', test.result === null || test.result === undefined ? null : JSON.stringify(test.result)],
  ]);
}

/** One progress line: a bar, the percentage and the agent's summary. */
export function progressLine(test: Pick<HardwareTestView, 'progress' | 'summary' | 'status'>): string {
  const percent = Math.max(0, Math.min(100, Math.floor(test.progress)));
  const filled = Math.round(percent / 5);
  return `  [${'#'.repeat(filled)}${'.'.repeat(20 - filled)}] ${String(percent).padStart(3)} %  ${test.status}${test.summary ? `: ${test.summary}` : ''}`;
}

export interface TestsRunOptions extends CommonOptions {
  duration?: string;
  size?: string;
  repair?: boolean;
  selfTest?: string;
  wait?: boolean;
}

/**
 * `tests run NAME KIND [DEVICE]`: starts a test; with `--wait`, follows it (a progress line on stderr
 * at each change, silent with --json) and exits by its outcome: 0 passed, 4 failed, 1 error or cancelled.
 */
export async function testsRun(name: string, kind: string, device: string | undefined, options: TestsRunOptions, { env, out }: Run): Promise<void> {
  if (!(hardwareTestKinds as readonly string[]).includes(kind)) throw usageError(`unknown test ${kind}: expected ${hardwareTestKinds.join(', ')}`);
  const testKind = kind as HardwareTestKind;
  if (deviceTestKinds.has(testKind) && device === undefined) throw usageError(`a ${kind} test needs a DEVICE (e.g. lifeboat tests run ${name} ${kind} ${kind === 'fsck' ? 'sda1' : 'sda'})`);
  if (options.selfTest !== undefined && options.selfTest !== 'short' && options.selfTest !== 'long') throw usageError('--self-test must be short or long');
  const api = clientFor(options, env);
  let test = await api.runTest(name, {
    kind: testKind,
    ...(device === undefined ? {} : { device }),
    ...(typeof options.duration === 'string' ? { duration: options.duration } : {}),
    ...(typeof options.size === 'string' ? { size: options.size } : {}),
    ...(options.repair ? { repair: true } : {}),
    ...(options.selfTest === 'short' || options.selfTest === 'long' ? { selfTest: options.selfTest } : {}),
  });
  if (options.wait) {
    out.progress(`${kind} test ${test.id} on ${name}`);
    let shown = '';
    let unreachableSince: number | undefined;
    while (!finishedTestStatuses.has(test.status)) {
      const line = progressLine(test);
      if (line !== shown) out.progress((shown = line));
      await new Promise((r) => setTimeout(r, 1000));
      try {
        test = await api.getTest(name, test.id);
        unreachableSince = undefined;
      } catch (error) {
        // A control plane being restarted keeps the test: wait for it a minute.
        if (!(error instanceof LifeboatError) || error.code !== 'UNREACHABLE') throw error;
        unreachableSince ??= Date.now();
        if (Date.now() - unreachableSince > 60_000) throw error;
      }
    }
    out.progress(progressLine(test));
  }
  out.result(testDocument(test), testText(test));
  if (!options.wait || test.status === 'passed') return;
  const why = test.summary ?? 'no summary';
  if (test.status === 'failed') throw new CliError('TEST_FAILED', `the ${kind} test failed: ${why}`, exitCodes.failed, { resultPrinted: true });
  if (test.status === 'cancelled') throw new CliError('TEST_CANCELLED', `the ${kind} test was cancelled: ${why}`, exitCodes.refused, { resultPrinted: true });
  throw new CliError('TEST_ERROR', `the ${kind} test could not run: ${why}`, exitCodes.refused, { resultPrinted: true });
}

export async function testsList(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const answer = await clientFor(options, env).listTests(name);
  out.result(
    { server: answer.server, tests: answer.tests.map(testDocument) },
    answer.tests.length === 0
      ? `no tests on ${name}`
      : table(
          ['ID', 'KIND', 'DEVICE', 'STATUS', 'PROGRESS', 'CREATED', 'SUMMARY'],
          answer.tests.map((t) => [t.id, t.kind, t.device ?? '', t.status, `${Math.floor(t.progress)} %`, t.createdAt, t.summary ?? '']),
        ),
  );
}

export async function testsShow(name: string, id: string, options: CommonOptions & { output?: boolean }, { env, out }: Run): Promise<void> {
  const api = clientFor(options, env);
  const test = await api.getTest(name, id);
  if (options.output) {
    const text = await api.getTestOutput(name, id);
    out.result({ ...testDocument(test), output: text }, `${testText(test)}\n\n${text.replace(/\n$/, '')}`);
    return;
  }
  out.result(testDocument(test), testText(test));
}

export async function testsCancel(name: string, id: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const test = await clientFor(options, env).cancelTest(name, id);
  out.result(testDocument(test), test.status === 'cancelled' ? `test ${test.id}: cancelled` : `test ${test.id}: cancel requested; the rescue system stops it at its next progress report`);
}

// console

/** `console log NAME`: the recorded bytes as they came (a terminal replays them), or `--json` metadata with base64 data. */
export async function consoleLog(name: string, options: CommonOptions & { session?: string }, { env, out }: Run): Promise<void> {
  const log = await clientFor(options, env).getConsoleLog(name, options.session === undefined ? {} : { session: options.session });
  if (out.json) return out.result(log, '');
  await writeStdout(Buffer.from(log.data, 'base64'));
}

// files (the partition explorer of a server in rescue)

/** Writes bytes to stdout, waiting when the pipe is full. */
function writeStdout(data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (error) => (error ? reject(error) : resolve())));
}

export async function filesList(name: string, device: string, path: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const listing = await clientFor(options, env).listFiles(name, device, path);
  out.result(
    listing,
    table(
      ['MODE', 'SIZE', 'MODIFIED', 'NAME'],
      listing.entries.map((e) => [`${e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : e.type === 'file' ? '-' : '?'}${e.mode}`, String(e.size), e.mtime.slice(0, 19).replace('T', ' '), e.target === null ? e.name : `${e.name} -> ${e.target}`]),
    ) + (listing.truncated ? `\n(only the first ${listing.entries.length} entries)` : ''),
  );
}

/** Prints a file range by range (1 MiB each): a file of any size, without holding it. */
export async function filesCat(name: string, device: string, path: string, options: CommonOptions, { env }: Run): Promise<void> {
  const api = clientFor(options, env);
  const length = 1024 * 1024;
  for (let offset = 0; ; ) {
    const range = await api.readFile(name, device, path, { offset, length });
    if (range.data.length > 0) await writeStdout(range.data);
    offset += range.data.length;
    if (range.data.length === 0 || offset >= range.size) return;
  }
}

/** Saves a file, or a directory as a tar file, streamed to FILE (`-` for stdout). */
export async function filesGet(name: string, device: string, path: string, options: CommonOptions & { out?: string }, { env, out }: Run): Promise<void> {
  const target = required(options.out, 'out');
  const { createWriteStream } = await import('node:fs');
  const { rm } = await import('node:fs/promises');
  const { Readable, Writable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const download = await clientFor(options, env).downloadFiles(name, device, path);
  let bytes = 0;
  const body = Readable.fromWeb(download.body as import('node:stream/web').ReadableStream<Uint8Array>).on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  // A partial file must not pass for the download: the control plane cuts the answer when the rescue
  // system's tar fails half-way, and a cut answer removes what was written.
  const incomplete = async (why: string): Promise<never> => {
    if (target !== '-') await rm(target, { force: true });
    throw new CliError('DOWNLOAD_INCOMPLETE', `the download of ${path} broke off after ${bytes} bytes (${why})${target === '-' ? '' : `; the partial ${target} was removed`}`, exitCodes.refused);
  };
  try {
    await pipeline(body, target === '-' ? (process.stdout as unknown as InstanceType<typeof Writable>) : createWriteStream(target));
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    await incomplete(`${error instanceof Error ? error.message : String(error)}${cause}`);
  }
  if (download.size !== null && bytes !== download.size) await incomplete(`${download.size} bytes announced`);
  out.result({ server: name, device, path, type: download.type, file: target, bytes }, target === '-' ? '' : `${download.type === 'directory' ? `${path} (tar)` : path}: ${bytes} bytes written to ${target}`);
}

export async function filesJournal(name: string, device: string, options: CommonOptions & { lines?: string; boot?: string; priority?: string }, { env, out }: Run): Promise<void> {
  const number = (text: string | undefined, flag: string) => {
    if (text === undefined) return undefined;
    if (!/^-?\d+$/.test(text)) throw usageError(`--${flag} must be a whole number`);
    return Number(text);
  };
  const lines = number(options.lines, 'lines');
  const boot = number(options.boot, 'boot');
  const text = await clientFor(options, env).journal(name, {
    device,
    ...(lines === undefined ? {} : { lines }),
    ...(boot === undefined ? {} : { boot }),
    ...(options.priority === undefined ? {} : { priority: options.priority as 'err' }),
  });
  out.result({ server: name, device, text }, text.replace(/\n$/, ''));
}

// the rescue doctor (issue 15)

/** One finding as text: its id, severity, check, summary, evidence and fix. */
function findingText(finding: DoctorFinding, server: string): string {
  const lines = [`${finding.id}  ${finding.severity.toUpperCase()}  ${finding.check}`, `  ${finding.summary}`];
  for (const evidence of finding.evidence) {
    const where = evidence.file !== undefined ? `${evidence.file}${evidence.line === undefined ? '' : `:${evidence.line}`}: ` : evidence.command !== undefined ? `$ ${evidence.command}\n` : '';
    lines.push(...`${where}${evidence.text}`.split('\n').map((l) => `    ${l}`));
  }
  if (finding.fix?.state === 'applied') lines.push(`  fix applied: ${finding.fix.description}${finding.fix.changedFiles?.length ? ` (${finding.fix.changedFiles.join(', ')})` : ''}; undo: lifeboat doctor undo ${server} ${finding.id}`);
  else if (finding.fix) lines.push(`  fix: ${finding.fix.description}: lifeboat doctor fix ${server} ${finding.id}`);
  return lines.join('\n');
}

/** `doctor NAME`: the doctor's findings on the server's rescue (or its last one). */
export async function doctorShow(name: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const view = await clientFor(options, env).getDoctor(name);
  const { report } = view;
  const head = block([
    ['server', view.server],
    ['rescue', view.current ? `in progress (session ${view.sessionId})` : `over (session ${view.sessionId}): its last report`],
    ['examined', report.installedSystem],
    ['doctor', report.state === 'done' ? `done in ${((report.durationMs ?? 0) / 1000).toFixed(1)} s` : report.state === 'failed' ? `failed: ${report.error ?? 'no reason given'}` : 'running'],
  ]);
  const findings = report.findings.length === 0 ? (report.state === 'running' ? 'no findings yet' : 'no findings: nothing stops the installed system from booting or answering SSH') : report.findings.map((f) => findingText(f, view.server)).join('\n\n');
  out.result(view, `${head}\n\n${findings}`);
}

/** How long `doctor fix` and `doctor undo` wait for the rescue system's answer. */
const doctorFixWaitMs = 10 * 60_000;

/**
 * `doctor fix NAME FINDING` / `doctor undo NAME FINDING`: asks the rescue system, then follows the fix
 * until it is done (exit 0: what changed, the copies kept) or failed (exit 4). A `root-password` fix
 * prints the new password, this once.
 */
export async function doctorFix(action: 'fix' | 'undo', name: string, findingId: string, options: CommonOptions, { env, out }: Run): Promise<void> {
  const api = clientFor(options, env);
  const answer = action === 'fix' ? await api.fixFinding(name, findingId) : await api.undoFinding(name, findingId);
  const password = answer.password;
  out.progress(`${action === 'fix' ? 'applying the fix of' : 'undoing the fix of'} ${findingId} on ${name}...`);
  let fix: DoctorFixView = answer;
  const until = Date.now() + doctorFixWaitMs;
  let unreachableSince: number | undefined;
  while (fix.state === 'pending') {
    if (Date.now() > until) throw new CliError('AGENT_UNAVAILABLE', `the rescue system of ${name} did not answer within ${doctorFixWaitMs / 60_000} min; see lifeboat doctor ${name}`, exitCodes.refused);
    await new Promise((r) => setTimeout(r, 500));
    try {
      fix = await api.getDoctorFix(name, fix.id);
      unreachableSince = undefined;
    } catch (error) {
      // A control plane being restarted keeps the fix: wait for it a minute.
      if (!(error instanceof LifeboatError) || error.code !== 'UNREACHABLE') throw error;
      unreachableSince ??= Date.now();
      if (Date.now() - unreachableSince > 60_000) throw error;
    }
  }
  const document = password === undefined ? fix : { ...fix, password };
  if (fix.state === 'failed') {
    out.result(document, `${findingId}: the ${action} failed: ${fix.error?.message ?? 'no reason given'}${fix.error ? ` (${fix.error.code})` : ''}`);
    throw new CliError('DOCTOR_FIX_FAILED', `the ${action} of ${findingId} failed: ${fix.error?.message ?? 'no reason given'}`, exitCodes.failed, { resultPrinted: true });
  }
  const kept = fix.finding?.fix;
  const changed = kept?.changedFiles ?? [];
  const lines = [action === 'fix' ? `${findingId}: fix applied${kept ? `: ${kept.description}` : ''}` : `${findingId}: fix undone: the changed files are back as they were`];
  changed.forEach((file, i) => {
    const copy = kept?.backups?.[i];
    lines.push(`  changed ${file}${action === 'fix' ? (copy === '' ? ' (created: no copy)' : `; its copy: ${copy ?? `${file}.lifeboat-<time>`}`) : ''}`);
  });
  if (action === 'fix') lines.push(`undo: lifeboat doctor undo ${name} ${findingId}`);
  if (password !== undefined) lines.push(`new root password (shown once, not mailed): ${password}`);
  out.result(document, lines.join('\n'));
}
