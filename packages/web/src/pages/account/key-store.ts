/**
 * The SSH key store's routes (`/v1/keys…`, branch wt-gateway's keys API) through the typed client's
 * `request`, until its methods are in the typed client of this branch.
 */
import type { LifeboatClient } from '@lifeboat/core/client';

/** A key of the SSH key store. */
export interface SshKeyView {
  readonly name: string;
  readonly tenant: string | null;
  readonly type: string;
  readonly fingerprint: string;
  readonly comment: string;
  readonly createdAt: string;
}

/** The key store routes of one client. */
export function keyStore(client: LifeboatClient) {
  return {
    listKeys: () => client.request<{ keys: SshKeyView[] }>('GET', '/v1/keys'),
    addKey: (body: { name: string; publicKey: string }) => client.request<SshKeyView>('POST', '/v1/keys', body),
    removeKey: (name: string) => client.request<void>('DELETE', `/v1/keys/${encodeURIComponent(name)}`),
  };
}
