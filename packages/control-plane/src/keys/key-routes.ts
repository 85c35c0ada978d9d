/**
 * `/v1/keys`: the SSH key store. A customer manages its tenant's keys. Technicians and operators
 * name a tenant (`tenant` in the body or the query), or none to manage the staff keys, which open
 * the console of every server (and can be given to any rescue by name). Every change is audited.
 */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { LifeboatError, type Principal, type Tenant } from '@lifeboat/core';
import { KeyNameParams, KeyScopeQuery, NewSshKey, SshKeyList, SshKeySchema, errorResponses, type SshKeyView } from '@lifeboat/core/api';
import type { AppOptions } from '../http/app.js';
import { authorize } from '../http/auth.js';
import type { SshKeyRecord } from '../store/ssh-keys.js';
import type { Store } from '../store/store.js';
import { parsePublicKey } from './public-key.js';

/** The tenant whose keys a request is about, or null for the staff keys. */
export async function keyScope(store: Store, principal: Principal, tenantName: string | undefined): Promise<Tenant | null> {
  if (principal.role === 'customer') {
    const own = principal.tenantId === null ? undefined : await store.tenants.byId(principal.tenantId);
    // Another tenant's name answers exactly as a tenant that does not exist.
    if (!own || (tenantName !== undefined && tenantName !== own.name)) throw new LifeboatError('TENANT_NOT_FOUND', `no tenant named ${tenantName ?? ''}`);
    return own;
  }
  return tenantName === undefined ? null : store.tenants.byName(tenantName);
}

/** A key for the API. */
export function keyView(key: SshKeyRecord, tenant: Tenant | null): SshKeyView {
  return {
    name: key.name,
    tenant: tenant?.name ?? null,
    type: key.type,
    bits: key.bits,
    fingerprint: key.fingerprint,
    comment: key.comment,
    publicKey: key.publicKey,
    createdAt: key.createdAt.toISOString(),
  };
}

/** The key store's routes. */
export function keyRoutes(options: AppOptions): FastifyPluginAsync {
  const { store } = options;
  return async (app) => {
    app.get<{ Querystring: KeyScopeQuery }>('/v1/keys', { schema: { tags: ['keys'], querystring: KeyScopeQuery, response: { 200: SshKeyList, ...errorResponses } } }, async (request) => {
      const principal = authorize(request, 'key.manage');
      const tenant = await keyScope(store, principal, request.query.tenant);
      return { keys: (await store.sshKeys.list(tenant?.id ?? null)).map((k) => keyView(k, tenant)) };
    });

    app.post<{ Body: NewSshKey }>('/v1/keys', { schema: { tags: ['keys'], body: NewSshKey, response: { 201: SshKeySchema, ...errorResponses } } }, async (request, reply) => {
      const principal = authorize(request, 'key.manage');
      const tenant = await keyScope(store, principal, request.body.tenant);
      const key = await store.sshKeys.add({ tenantId: tenant?.id ?? null, name: request.body.name, key: parsePublicKey(request.body.publicKey), createdBy: principal.tokenId });
      await store.audit.record(principal.tokenId, 'key.add', { tenantId: tenant?.id ?? null, detail: { name: key.name, fingerprint: key.fingerprint, staff: tenant === null } });
      return reply.status(201).send(keyView(key, tenant));
    });

    app.delete<{ Params: KeyNameParams; Querystring: KeyScopeQuery }>(
      '/v1/keys/:name',
      { schema: { tags: ['keys'], params: KeyNameParams, querystring: KeyScopeQuery, response: { 204: Type.Null(), ...errorResponses } } },
      async (request, reply) => {
        const principal = authorize(request, 'key.manage');
        const tenant = await keyScope(store, principal, request.query.tenant);
        const key = await store.sshKeys.remove(tenant?.id ?? null, request.params.name);
        await store.audit.record(principal.tokenId, 'key.remove', { tenantId: tenant?.id ?? null, detail: { name: key.name, fingerprint: key.fingerprint, staff: tenant === null } });
        return reply.status(204).send();
      },
    );
  };
}

/**
 * The public key lines of `names` for a rescue of a server of `tenantId`: from the tenant's store;
 * for technicians and operators, a name the tenant lacks may be a staff key. `KEY_NOT_FOUND` names
 * the first key found in neither.
 */
export async function resolveKeyNames(store: Store, principal: Principal, tenantId: string, names: readonly string[]): Promise<string[]> {
  const own = new Map((await store.sshKeys.list(tenantId)).map((k) => [k.name, k.publicKey]));
  const staff = new Map(principal.role === 'customer' ? [] : (await store.sshKeys.list(null)).map((k) => [k.name, k.publicKey]));
  return [...new Set(names)].map((name) => {
    const line = own.get(name) ?? staff.get(name);
    if (line === undefined) {
      throw new LifeboatError('KEY_NOT_FOUND', `no SSH key named ${name} in the tenant's keys${principal.role === 'customer' ? '' : ' or the staff keys'} (see lifeboat keys list)`);
    }
    return line;
  });
}
