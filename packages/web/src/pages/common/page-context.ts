/**
 * What the feature pages need from the shell, in one place: the typed client, the messages, the
 * language, the signed-in user, the sentence for an API error and navigation. The feature folders
 * import only `usePage`, so they do not depend on how the shell is laid out.
 */
import type { LifeboatClient } from '@lifeboat/core/client';
import { useMemo } from 'react';
import { useClient } from '../../api/client.js';
import { useSession } from '../../auth/session.js';
import { errorMessage } from '../../i18n/error-message.js';
import { useI18n, type PluralKey } from '../../i18n/i18n.js';
import { navigate } from '../../router/router.js';

/** A role as the accounts API gives it. */
export type Role = 'customer' | 'technician' | 'operator';

/** The signed-in user as the pages use it. */
export interface PageUser {
  readonly name: string;
  readonly role: Role;
  /** The tenant's name (null for staff without one). */
  readonly tenant: string | null;
}

/** A message by key with `{name}` placeholders filled. */
export type Translate = (key: string, values?: Readonly<Record<string, string | number>>) => string;

/** Everything a page gets from the shell. */
export interface PageServices {
  readonly client: LifeboatClient;
  /** Keys built at run time (`tests.kind.${kind}`) are checked by the messages test, not the compiler. */
  readonly t: Translate;
  /** The plural form of `key` (`key.one`, `key.other`) that agrees with `count` (`Intl.PluralRules`). */
  readonly plural: (key: string, count: number, values?: Readonly<Record<string, string | number>>) => string;
  /** BCP 47 tag for `Intl` (`en`, `fr`). */
  readonly locale: string;
  readonly user: PageUser;
  /** The sentence a customer can act on for an error thrown by the client. */
  readonly errorText: (error: unknown) => string;
  /** Goes to an in-app path (`/incidents/ID`). */
  readonly navigate: (path: string) => void;
}

const signedOut: PageUser = { name: '', role: 'customer', tenant: null };

/** The shell's services for a feature page (rendered only when signed in). */
export function usePage(): PageServices {
  const client = useClient();
  const i18n = useI18n();
  const { state } = useSession();
  const user = state.status === 'signed-in' ? state.user : signedOut;
  return useMemo<PageServices>(
    () => ({
      client,
      t: (key, values) => (i18n.has(key) ? i18n.t(key, values) : key),
      plural: (key, count, values) => (i18n.has(`${key}.one`) && i18n.has(`${key}.other`) ? i18n.plural(key as PluralKey, count, values) : key),
      locale: i18n.language,
      user: { name: user.name, role: user.role, tenant: user.tenant },
      errorText: (error) => errorMessage(i18n, error),
      navigate: (path) => navigate(path),
    }),
    [client, i18n, user.name, user.role, user.tenant],
  );
}
