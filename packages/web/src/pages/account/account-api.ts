/**
 * The accounts and key store routes the pages call (`/v1/account…`, `/v1/users…`, `/v1/keys…`),
 * through the typed client's `request` with the contract's types.
 */
import type { LifeboatClient } from '@lifeboat/core/client';

/** A user as the API shows it. */
export interface UserView {
  readonly name: string;
  readonly role: 'customer' | 'technician' | 'operator';
  readonly tenant: string | null;
  readonly email: string | null;
  readonly createdAt: string;
}
/** One of a user's own API tokens (never the secret). */
export interface OwnTokenView {
  readonly id: string;
  readonly name: string;
  readonly createdAt: string;
}
/** A key of the SSH key store. */
export interface SshKeyView {
  readonly name: string;
  readonly tenant: string | null;
  readonly type: string;
  readonly fingerprint: string;
  readonly comment: string;
  readonly createdAt: string;
}

const segment = encodeURIComponent;

/** The account routes of one client. */
export function accountApi(client: LifeboatClient) {
  return {
    getAccount: () => client.request<{ user: UserView }>('GET', '/v1/account'),
    updateAccount: (body: { email: string | null }) => client.request<{ user: UserView }>('PUT', '/v1/account', body),
    changePassword: (body: { current: string; new: string }) => client.request<void>('POST', '/v1/account/password', body),
    listOwnTokens: () => client.request<{ tokens: OwnTokenView[] }>('GET', '/v1/account/tokens'),
    createOwnToken: (body: { name: string }) => client.request<{ id: string; name: string; token: string }>('POST', '/v1/account/tokens', body),
    revokeOwnToken: (id: string) => client.request<void>('DELETE', `/v1/account/tokens/${segment(id)}`),
    listUsers: () => client.request<{ users: UserView[] }>('GET', '/v1/users'),
    addUser: (body: { name: string; role: UserView['role']; tenant?: string; email?: string }) => client.request<{ user: UserView; password?: string }>('POST', '/v1/users', body),
    removeUser: (name: string) => client.request<void>('DELETE', `/v1/users/${segment(name)}`),
    listKeys: () => client.request<{ keys: SshKeyView[] }>('GET', '/v1/keys'),
    addKey: (body: { name: string; publicKey: string }) => client.request<SshKeyView>('POST', '/v1/keys', body),
    removeKey: (name: string) => client.request<void>('DELETE', `/v1/keys/${segment(name)}`),
  };
}
