/**
 * The authorization policy of every operation of the API, small and explicit: who authenticates it
 * (a user of the API, the rescue system's agent, nobody), what each role may do, and the requests that
 * exercise it on the caller's own tenant and on a foreign one (each beside the request for a resource
 * that does not exist, which the foreign one must be indistinguishable from). The matrix derives every
 * expected answer from this table; an operation missing from it fails the matrix.
 */
import type { Role } from '@lifeboat/core';
import { brokenDoctorReport } from '@lifeboat/test-support';
import { missingId, type CallerName, type Req, type World } from './api-world.js';

/**
 * What a role gets: `allow` (past authorization), `forbid` (403 FORBIDDEN) or `hidden` (answered
 * exactly as a missing resource: customers never learn what exists outside their tenant).
 */
export type Decision = 'allow' | 'forbid' | 'hidden';

/** A foreign resource and its missing counterpart: they must answer alike. */
export interface ForeignCase {
  readonly foreign: Req;
  readonly missing: Req;
}

/** One operation's entry. */
export interface RoutePolicy {
  /** `user`: an API token or a browser session; `agent`: an agent token; `public`: no credential. */
  readonly auth: 'user' | 'agent' | 'public';
  /** User routes: each role's decision (absent: forbid). */
  readonly roles?: Partial<Record<Role, Decision>>;
  /** Routes of a user's own account: `user` needs a user behind the caller, `session` a browser session. */
  readonly account?: 'user' | 'session';
  /** The request on the caller's own tenant (a new one per call: it may consume what it names). */
  own(w: World, caller: CallerName): Promise<Req> | Req;
  /** Public routes: the callers worth sending (default: all). */
  readonly callers?: readonly CallerName[];
  /** The same request naming nothing that exists, when the operation names a resource. */
  missing?(w: World): Req;
  /** The own request finds nothing either (an upload nobody waits for): not compared with the missing one. */
  readonly ownIsMissing?: boolean;
  /** Requests naming the foreign tenant's resources, when the operation names any. */
  foreign?(w: World): Promise<ForeignCase[]> | ForeignCase[];
}

const all: Partial<Record<Role, Decision>> = { customer: 'allow', technician: 'allow', operator: 'allow' };
const staff: Partial<Record<Role, Decision>> = { technician: 'allow', operator: 'allow' };
const operator: Partial<Record<Role, Decision>> = { operator: 'allow' };
const nowhere = 'nosuch-server';

/**
 * A server-scoped request: own, missing and foreign from one builder; `crossed` adds foreign cases on
 * the caller's own server (a foreign test, key or session named in the request).
 */
function onServer(
  roles: Partial<Record<Role, Decision>>,
  build: (server: string) => Omit<Req, 'params'> & { params?: Record<string, string> } = () => ({}),
  crossed: (w: World) => ForeignCase[] = () => [],
): Pick<RoutePolicy, 'auth' | 'roles' | 'own' | 'missing' | 'foreign'> {
  const req = (server: string): Req => {
    const built = build(server);
    return { ...built, params: { name: server, ...built.params } };
  };
  return {
    auth: 'user',
    roles,
    own: (w) => req(w.own.rescued),
    missing: () => req(nowhere),
    foreign: (w) => [{ foreign: req(w.foreign.rescued), missing: req(nowhere) }, ...crossed(w)],
  };
}

/** The table: `METHOD /path` as in the OpenAPI document. */
export const routePolicy: Readonly<Record<string, RoutePolicy>> = {
  'GET /v1/tenants': { auth: 'user', roles: operator, own: () => ({}) },
  'POST /v1/tenants': { auth: 'user', roles: operator, own: (w) => ({ body: { name: w.fresh('tenant') } }) },
  'POST /v1/tokens': { auth: 'user', roles: operator, own: (w) => ({ body: { role: 'customer', tenant: w.own.tenant } }) },
  'DELETE /v1/tokens/{id}': {
    auth: 'user',
    roles: operator,
    own: async (w) => ({ params: { id: (await w.app.store.tokens.create({ name: 'to-revoke', role: 'technician', tenantId: null })).record.id } }),
    missing: () => ({ params: { id: missingId() } }),
  },
  'GET /v1/servers': { auth: 'user', roles: all, own: () => ({}) },
  'POST /v1/servers': {
    auth: 'user',
    roles: operator,
    own: (w) => ({ body: { name: w.fresh('new'), tenant: w.own.tenant, macs: ['52:54:00:aa:00:01'], bmc: { url: 'redfish://127.0.0.1:1/redfish/v1/Systems/1' } } }),
  },
  'GET /v1/servers/{name}': onServer(all),
  'DELETE /v1/servers/{name}': {
    auth: 'user',
    roles: operator,
    own: async (w) => ({ params: { name: await w.addServer(w.own.tenant) } }),
    missing: () => ({ params: { name: nowhere } }),
    foreign: async (w) => [{ foreign: { params: { name: await w.addServer(w.foreign.tenant) } }, missing: { params: { name: nowhere } } }],
  },
  // Customers never reach a BMC: their own server answers as a missing one.
  'POST /v1/servers/{name}/validate': onServer({ customer: 'hidden', technician: 'forbid', operator: 'allow' }),
  'PATCH /v1/servers/{name}/bmc': onServer({ customer: 'hidden', technician: 'forbid', operator: 'allow' }, () => ({ body: { user: 'admin' } })),
  // Enter and exit on the idle server (the rescued one keeps its agent for the other routes).
  'POST /v1/servers/{name}/rescue': {
    auth: 'user',
    roles: all,
    own: (w) => ({ params: { name: w.own.idle }, body: {} }),
    missing: () => ({ params: { name: nowhere }, body: {} }),
    foreign: (w) => [
      { foreign: { params: { name: w.foreign.idle }, body: {} }, missing: { params: { name: nowhere }, body: {} } },
      // The foreign tenant's SSH key named for the caller's own server.
      { foreign: { params: { name: w.own.idle }, body: { keys: [w.foreign.keyName] } }, missing: { params: { name: w.own.idle }, body: { keys: ['nosuch-key'] } } },
    ],
  },
  'GET /v1/servers/{name}/rescue': onServer(all),
  'POST /v1/servers/{name}/rescue/exit': {
    auth: 'user',
    roles: all,
    own: (w) => ({ params: { name: w.own.idle } }),
    missing: () => ({ params: { name: nowhere } }),
    foreign: (w) => [{ foreign: { params: { name: w.foreign.idle } }, missing: { params: { name: nowhere } } }],
  },
  'POST /v1/servers/{name}/rescue/extend': onServer(all, () => ({ body: { expiresIn: '2h' } })),
  'GET /v1/servers/{name}/tasks': onServer(all),
  'GET /v1/servers/{name}/inventory': onServer(all),
  'POST /v1/servers/{name}/rescue/work': onServer(all, () => ({ body: { kind: 'disks' } })),
  'GET /v1/servers/{name}/rescue/work/{id}': {
    auth: 'user',
    roles: all,
    own: (w) => ({ params: { name: w.own.rescued, id: w.own.workId } }),
    missing: (w) => ({ params: { name: w.own.rescued, id: missingId() } }),
    foreign: (w) => [
      { foreign: { params: { name: w.foreign.rescued, id: w.foreign.workId } }, missing: { params: { name: nowhere, id: missingId() } } },
      // The caller's own server with the foreign server's work.
      { foreign: { params: { name: w.own.rescued, id: w.foreign.workId } }, missing: { params: { name: w.own.rescued, id: missingId() } } },
    ],
  },
  'POST /v1/servers/{name}/incidents': onServer(
    all,
    () => ({ body: { message: 'disk failing' } }),
    // The foreign tenant's hardware test attached to an incident of the caller's own server.
    (w) => [{ foreign: { params: { name: w.own.rescued }, body: { message: 'see test', tests: [w.foreign.testId] } }, missing: { params: { name: w.own.rescued }, body: { message: 'see test', tests: [missingId()] } } }],
  ),
  'GET /v1/incidents': {
    auth: 'user',
    roles: all,
    own: (w) => ({ query: { server: w.own.rescued } }),
    missing: () => ({ query: { server: nowhere } }),
    foreign: (w) => [{ foreign: { query: { server: w.foreign.rescued } }, missing: { query: { server: nowhere } } }],
  },
  ...Object.fromEntries(
    (
      [
        ['GET /v1/incidents/{id}', undefined],
        ['POST /v1/incidents/{id}', { state: 'acknowledged' }],
        ['POST /v1/incidents/{id}/resolve', {}],
        ['POST /v1/incidents/{id}/comments', { message: 'any news?' }],
      ] as const
    ).map(([key, body]): [string, RoutePolicy] => {
      const req = (id: string): Req => (body === undefined ? { params: { id } } : { params: { id }, body });
      // Customers comment on their incidents; moving one is for technicians and operators.
      const roles = key.endsWith('{id}') && key.startsWith('GET') ? all : key.endsWith('comments') ? all : { customer: 'forbid' as const, ...staff };
      return [key, { auth: 'user', roles, own: (w) => req(w.own.incidentId), missing: () => req(missingId()), foreign: (w) => [{ foreign: req(w.foreign.incidentId), missing: req(missingId()) }] }];
    }),
  ),
  'GET /v1/audit': {
    auth: 'user',
    roles: operator,
    own: (w) => ({ query: { server: w.own.rescued } }),
    missing: () => ({ query: { server: nowhere } }),
  },
  // A sign-in costs a scrypt hash (hundreds of ms): a credential, valid or not, must not change it.
  'POST /v1/auth/sign-in': { auth: 'public', callers: ['none', 'revoked', 'cookie'], own: (w) => ({ body: { name: w.own.userName, password: w.password } }) },
  'POST /v1/auth/sign-out': { auth: 'user', roles: all, account: 'session', own: () => ({}) },
  'GET /v1/auth/session': { auth: 'user', roles: all, account: 'session', own: () => ({}) },
  'GET /v1/account': { auth: 'user', roles: all, account: 'user', own: () => ({}) },
  'PUT /v1/account': { auth: 'user', roles: all, account: 'user', own: () => ({ body: { email: 'alice@example.org' } }) },
  'POST /v1/account/password': { auth: 'user', roles: all, account: 'user', own: (w) => ({ body: { current: w.password, new: w.password } }) },
  'GET /v1/account/tokens': { auth: 'user', roles: all, account: 'user', own: () => ({}) },
  'POST /v1/account/tokens': { auth: 'user', roles: all, account: 'user', own: (w) => ({ body: { name: w.fresh('laptop') } }) },
  'DELETE /v1/account/tokens/{id}': {
    auth: 'user',
    roles: all,
    account: 'user',
    own: async (w) => {
      const user = (await w.app.store.users.byName(w.own.userName))!;
      return { params: { id: (await w.app.store.tokens.create({ name: 'mine', role: 'customer', tenantId: user.tenantId, userId: user.id })).record.id } };
    },
    missing: () => ({ params: { id: missingId() } }),
    // Another user's token (of the foreign tenant) is not the caller's.
    foreign: (w) => [{ foreign: { params: { id: w.foreign.userTokenId } }, missing: { params: { id: missingId() } } }],
  },
  'GET /v1/users': { auth: 'user', roles: operator, own: () => ({}) },
  'POST /v1/users': { auth: 'user', roles: operator, own: (w) => ({ body: { name: w.fresh('user'), role: 'customer', tenant: w.own.tenant } }) },
  'DELETE /v1/users/{name}': {
    auth: 'user',
    roles: operator,
    // A user costs a scrypt hash: made for the caller who may remove it; the others are refused first.
    own: async (w, caller) => {
      if (caller !== 'operator') return { params: { name: w.foreign.userName } };
      const name = w.fresh('leaving');
      await w.app.store.users.add({ name, role: 'technician', tenantId: null, email: null, password: w.password });
      return { params: { name } };
    },
    missing: () => ({ params: { name: 'nosuch-user' } }),
  },
  'GET /v1/keys': {
    auth: 'user',
    roles: all,
    own: (w) => ({ query: { tenant: w.own.tenant } }),
    missing: () => ({ query: { tenant: 'nosuch-tenant' } }),
    foreign: (w) => [{ foreign: { query: { tenant: w.foreign.tenant } }, missing: { query: { tenant: 'nosuch-tenant' } } }],
  },
  'POST /v1/keys': {
    auth: 'user',
    roles: all,
    own: (w) => ({ body: { name: w.fresh('key'), tenant: w.own.tenant, publicKey: w.publicKey() } }),
    missing: (w) => ({ body: { name: w.fresh('key'), tenant: 'nosuch-tenant', publicKey: w.publicKey() } }),
    foreign: (w) => [{ foreign: { body: { name: w.fresh('key'), tenant: w.foreign.tenant, publicKey: w.publicKey() } }, missing: { body: { name: w.fresh('key'), tenant: 'nosuch-tenant', publicKey: w.publicKey() } } }],
  },
  'DELETE /v1/keys/{name}': {
    auth: 'user',
    roles: all,
    own: async (w) => {
      const name = w.fresh('old-key');
      await w.app.call('POST', '/v1/keys', w.app.admin, { name, tenant: w.own.tenant, publicKey: w.publicKey() });
      return { params: { name }, query: { tenant: w.own.tenant } };
    },
    missing: (w) => ({ params: { name: 'nosuch-key' }, query: { tenant: w.own.tenant } }),
    foreign: (w) => [
      { foreign: { params: { name: w.foreign.keyName }, query: { tenant: w.foreign.tenant } }, missing: { params: { name: 'nosuch-key' }, query: { tenant: 'nosuch-tenant' } } },
      // The foreign tenant's key asked for in the caller's own store.
      { foreign: { params: { name: w.foreign.keyName }, query: { tenant: w.own.tenant } }, missing: { params: { name: 'nosuch-key' }, query: { tenant: w.own.tenant } } },
    ],
  },
  'GET /v1/console': { auth: 'user', roles: all, own: () => ({}) },
  'GET /v1/ssh-host-ca': { auth: 'user', roles: all, own: () => ({}) },
  'POST /v1/agent/redeem': { auth: 'public', own: (w) => ({ body: { serverId: w.own.rescuedId, bootToken: 'lbb_spent' } }) },
  'POST /v1/agent/events': { auth: 'agent', own: () => ({ body: { step: 'matrix_probe', detail: 'from the matrix' } }) },
  'POST /v1/agent/host-keys': { auth: 'agent', own: () => ({ body: { hostKeys: [{ type: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC56jf/OZUNxmNcL5zXqAVReOY7nJgAZOq0USLEw57zh', fingerprint: 'SHA256:CL5wy6QbslA1gVMoMem7QsU8bJIc9itDLv5fTXhzPQY' }] } }) },
  'POST /v1/agent/inventory': { auth: 'agent', own: () => ({ body: { disks: [{ name: 'sda' }] } }) },
  'POST /v1/agent/ready': { auth: 'agent', own: () => ({}) },
  'POST /v1/agent/heartbeat': { auth: 'agent', own: () => ({}) },
  'GET /v1/agent/work': { auth: 'agent', own: () => ({ query: { waitSeconds: '0' } }) },
  'POST /v1/agent/work/{id}/result': {
    auth: 'agent',
    own: async (w) => ({ params: { id: (await w.app.call('POST', `/v1/servers/${w.own.rescued}/rescue/work`, w.app.admin, { kind: 'disks' })).body?.id }, body: { state: 'completed', result: {} } }),
    missing: () => ({ params: { id: missingId() }, body: { state: 'completed', result: {} } }),
    foreign: (w) => [{ foreign: { params: { id: w.foreign.workId }, body: { state: 'completed', result: {} } }, missing: { params: { id: missingId() }, body: { state: 'completed', result: {} } } }],
  },
  'POST /v1/servers/{name}/tests': onServer(all, () => ({ body: { kind: 'cpu' } })),
  'GET /v1/servers/{name}/tests': onServer(all),
  ...Object.fromEntries(
    (['GET /v1/servers/{name}/tests/{id}', 'GET /v1/servers/{name}/tests/{id}/output', 'POST /v1/servers/{name}/tests/{id}/cancel'] as const).map((key): [string, RoutePolicy] => [
      key,
      {
        auth: 'user',
        roles: all,
        own: (w) => ({ params: { name: w.own.rescued, id: w.own.testId } }),
        missing: (w) => ({ params: { name: w.own.rescued, id: missingId() } }),
        foreign: (w) => [
          { foreign: { params: { name: w.foreign.rescued, id: w.foreign.testId } }, missing: { params: { name: nowhere, id: missingId() } } },
          { foreign: { params: { name: w.own.rescued, id: w.foreign.testId } }, missing: { params: { name: w.own.rescued, id: missingId() } } },
        ],
      },
    ]),
  ),
  'POST /v1/agent/work/{id}/progress': {
    auth: 'agent',
    own: (w) => ({ params: { id: w.own.workId }, body: { progress: 50 } }),
    missing: () => ({ params: { id: missingId() }, body: { progress: 50 } }),
    foreign: (w) => [{ foreign: { params: { id: w.foreign.workId }, body: { progress: 50 } }, missing: { params: { id: missingId() }, body: { progress: 50 } } }],
  },
  'POST /v1/agent/doctor': { auth: 'agent', own: () => ({ body: brokenDoctorReport() }) },
  'GET /v1/servers/{name}/doctor': onServer(all),
  'POST /v1/servers/{name}/doctor/findings/{id}/fix': onServer(all, () => ({ params: { id: 'fstab-data' } })),
  'POST /v1/servers/{name}/doctor/findings/{id}/undo': onServer(all, () => ({ params: { id: 'fstab-data' } })),
  'GET /v1/servers/{name}/doctor/fixes/{id}': {
    auth: 'user',
    roles: all,
    own: (w) => ({ params: { name: w.own.rescued, id: w.own.doctorFixId } }),
    missing: (w) => ({ params: { name: w.own.rescued, id: missingId() } }),
    foreign: (w) => [
      { foreign: { params: { name: w.foreign.rescued, id: w.foreign.doctorFixId } }, missing: { params: { name: nowhere, id: missingId() } } },
      { foreign: { params: { name: w.own.rescued, id: w.foreign.doctorFixId } }, missing: { params: { name: w.own.rescued, id: missingId() } } },
    ],
  },
  'POST /v1/agent/tests': { auth: 'agent', own: () => ({ body: { params: { kind: 'cpu', device: null, durationSeconds: 10, sizeBytes: null, repair: false, selfTest: null } } }) },
  'GET /v1/events': {
    auth: 'user',
    roles: all,
    own: (w) => ({ query: { server: w.own.rescued } }),
    missing: () => ({ query: { server: nowhere } }),
    foreign: (w) => [{ foreign: { query: { server: w.foreign.rescued } }, missing: { query: { server: nowhere } } }],
  },
  'GET /v1/servers/{name}/files/{device}': onServer(all, () => ({ params: { device: 'sda1' }, query: { path: '/etc' } })),
  'GET /v1/servers/{name}/files/{device}/content': onServer(all, () => ({ params: { device: 'sda1' }, query: { path: '/etc/fstab' } })),
  'GET /v1/servers/{name}/files/{device}/download': onServer(all, () => ({ params: { device: 'sda1' }, query: { path: '/etc/fstab' } })),
  'GET /v1/servers/{name}/journal': onServer(all, () => ({ query: { device: 'sda1' } })),
  'PUT /v1/agent/work/{id}/upload': {
    auth: 'agent',
    ownIsMissing: true,
    own: (w) => ({ params: { id: w.own.workId } }),
    missing: () => ({ params: { id: missingId() } }),
    foreign: (w) => [{ foreign: { params: { id: w.foreign.workId } }, missing: { params: { id: missingId() } } }],
  },
  'GET /v1/servers/{name}/console/log': onServer(
    all,
    () => ({}),
    // The foreign tenant's rescue session asked for on the caller's own server.
    (w) => [{ foreign: { params: { name: w.own.rescued }, query: { session: w.foreign.sessionId } }, missing: { params: { name: w.own.rescued }, query: { session: missingId() } } }],
  ),
  // Without Upgrade: the refusals come first, then 400 (or 503 here: this app serves no consoles).
  'GET /v1/servers/{name}/console/ws': onServer(all),
  'GET /v1/servers/{name}/desktop': onServer(all),
  'GET /v1/servers/{name}/desktop/ws': onServer(all),
  'GET /boot.ipxe': { auth: 'public', own: () => ({}) },
  'GET /v1/boot/{script}': { auth: 'public', own: (w) => ({ params: { script: `${w.own.idleMac.replace(/:/g, '-')}.ipxe` } }) },
  'GET /v1/images/{imageId}/{file}': { auth: 'public', own: () => ({ params: { imageId: 'linux', file: 'vmlinuz' } }) },
  'HEAD /v1/images/{imageId}/{file}': { auth: 'public', own: () => ({ params: { imageId: 'linux', file: 'vmlinuz' } }) },
};
