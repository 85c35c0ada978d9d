/**
 * What the feature pages need from the shell, in one place: the typed client, the messages, the
 * language, the signed-in user and the sentence for an API error. The shell's own hooks provide
 * each; pages import only `usePage`, so the feature folders do not depend on the shell's layout.
 */
import { createContext, useContext } from 'react';
import type { LifeboatClient } from '@lifeboat/core';

/** A role as the accounts API gives it. */
export type Role = 'customer' | 'technician' | 'operator';

/** The signed-in user as the pages use it. */
export interface PageUser {
  readonly name: string;
  readonly role: Role;
  /** The tenant's name (null for an operator without one). */
  readonly tenant: string | null;
}

/** A message by key with `{name}` placeholders filled. */
export type Translate = (key: string, values?: Readonly<Record<string, string | number>>) => string;

/** Everything a page gets from the shell. */
export interface PageContextValue {
  readonly client: LifeboatClient;
  readonly t: Translate;
  /** BCP 47 tag for `Intl` (`en`, `fr`). */
  readonly locale: string;
  readonly user: PageUser;
  /** The sentence a customer can act on for an error thrown by the client. */
  readonly errorText: (error: unknown) => string;
  /** Goes to an in-app path (`/incidents/ID`). */
  readonly navigate: (path: string) => void;
}

/** Provided by the shell around the routed pages. */
export const PageContext = createContext<PageContextValue | null>(null);

/** The shell's services for a feature page. */
export function usePage(): PageContextValue {
  const value = useContext(PageContext);
  if (!value) throw new Error('usePage() outside the console shell');
  return value;
}
