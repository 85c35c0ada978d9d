/**
 * Enter rescue: profile, SSH keys (chosen by name from the account's key store, and pasted), e-mail
 * address, lease. The answer's password goes to `onEntered` and nowhere else. `?profile=windows` in the
 * page's address chooses the profile (the desktop page links here so).
 */
import type { EnterRescue, ServerView } from '@lifeboat/core/api';
import type { RescueTaskAnswer } from '@lifeboat/core/client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { queryKeys, useClient } from '../api/client.js';
import { useUser } from '../auth/session.js';
import { errorMessage } from '../i18n/error-message.js';
import { useI18n } from '../i18n/i18n.js';
import { useLocation } from '../router/router.js';
import { enterRescueBody } from './enter-rescue-body.js';
import { leaseChoices } from './lease.js';

/** The form; `onEntered` gets the answer (with the password when no key was given). */
export function EnterRescueForm({ server, onEntered }: { server: ServerView; onEntered: (answer: RescueTaskAnswer) => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const client = useClient();
  const user = useUser();
  const queryClient = useQueryClient();
  const errorId = useId();
  const asked = useLocation().search.get('profile');
  const [profile, setProfile] = useState(asked !== null && server.profiles.includes(asked) ? asked : (server.profiles[0] ?? ''));
  // A customer's store is their tenant's; staff pick from the keys of the server's tenant.
  const keyTenant = user.role === 'customer' ? undefined : server.tenant;
  const stored = useQuery({ queryKey: queryKeys.sshKeys(keyTenant), queryFn: () => client.listKeys(keyTenant) });
  const enter = useMutation({
    mutationFn: (body: EnterRescue) => client.enterRescue(server.name, body),
    onSuccess: (answer) => {
      onEntered(answer);
      void queryClient.invalidateQueries({ queryKey: queryKeys.server(server.name) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.tasks(server.name) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.servers });
    },
  });
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    enter.mutate(
      enterRescueBody({
        profile,
        keys: String(form.get('keys') ?? ''),
        keyNames: form.getAll('keyName').map(String),
        email: String(form.get('email') ?? ''),
        lease: String(form.get('lease') ?? ''),
      }),
    );
  };
  return (
    <section className="card" aria-labelledby="enter-title">
      <h2 id="enter-title">{t('rescue.enterTitle')}</h2>
      <p className="hint">{t('rescue.enterHelp')}</p>
      <form onSubmit={submit} aria-describedby={enter.isError ? errorId : undefined}>
        {server.profiles.length > 1 && (
          <label className="field">
            <span>{t('rescue.profile')}</span>
            <select value={profile} onChange={(e) => setProfile(e.target.value)}>
              {server.profiles.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
        )}
        {stored.data && stored.data.keys.length > 0 && (
          <fieldset className="field key-picker">
            <legend>{t('rescue.storedKeys')}</legend>
            {stored.data.keys.map((key) => (
              <label key={key.name} className="check">
                <input type="checkbox" name="keyName" value={key.name} />
                <span>
                  <strong>{key.name}</strong> <code translate="no">{key.fingerprint}</code>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        <label className="field">
          <span>{t('rescue.pastedKeys')}</span>
          <textarea name="keys" rows={3} spellCheck={false} autoCapitalize="none" placeholder="ssh-ed25519 AAAA… you@laptop" />
          <small className="hint">{t('rescue.pastedKeysHelp')}</small>
        </label>
        <label className="field">
          <span>{t('rescue.email')}</span>
          <input name="email" type="email" autoComplete="email" defaultValue={user.email ?? ''} />
        </label>
        <label className="field">
          <span>{t('rescue.lease')}</span>
          <select name="lease" defaultValue="24h">
            {leaseChoices.map((c) => (
              <option key={c} value={c}>
                {t(`duration.${c}`)}
              </option>
            ))}
          </select>
        </label>
        <div role="alert" id={errorId} className="error-text">
          {enter.isError ? errorMessage(i18n, enter.error) : ''}
        </div>
        <button type="submit" className="primary" disabled={enter.isPending}>
          {enter.isPending ? t('rescue.entering') : t('rescue.enter')}
        </button>
      </form>
    </section>
  );
}
