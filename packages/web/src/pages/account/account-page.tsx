/**
 * The signed-in user's account: e-mail address, password change, own API tokens (a new one is shown
 * once; revoke), and the SSH keys of the key store (`/v1/keys`) offered when entering rescue.
 */
import { useState, type FormEvent } from 'react';
import { formatDate } from '../common/format.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { SecretOnce } from '../common/secret-once.js';
import { useResource } from '../common/use-resource.js';
import { SshKeys } from './ssh-keys.js';

/** `/account`. */
export function AccountPage() {
  const { t, user } = usePage();
  return (
    <section className="page stack" aria-labelledby="account-title">
      <h1 id="account-title" tabIndex={-1}>{t('account.title')}</h1>
      <p className="meta">{t('account.signedInAs', { name: user.name, role: t(`account.role.${user.role}`), tenant: user.tenant ?? '—' })}</p>
      <EmailForm />
      <PasswordForm />
      <OwnTokens />
      <SshKeys />
    </section>
  );
}

function EmailForm() {
  const { client, t } = usePage();
  const account = useResource(['account'], () => client.getAccount());
  const [email, setEmail] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const value = email ?? account.data?.user.email ?? '';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    try {
      await client.updateAccount({ email: value.trim() ? value.trim() : null });
      setSaved(true);
      account.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form className="card stack" onSubmit={submit} aria-labelledby="email-title">
      <h2 id="email-title">{t('account.email.title')}</h2>
      <label>
        {t('account.email.label')}
        <input type="email" name="email" value={value} onChange={(event) => setEmail(event.target.value)} autoComplete="email" />
      </label>
      <p className="hint">{t('account.email.help')}</p>
      <ErrorNote error={error ?? account.error} />
      <p role="status" className="meta">
        {saved ? t('account.email.saved') : ''}
      </p>
      <div>
        <button type="submit">{t('account.email.save')}</button>
      </div>
    </form>
  );
}

function PasswordForm() {
  const { client, t } = usePage();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>();
  const [mismatch, setMismatch] = useState(false);
  const [saved, setSaved] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setSaved(false);
    setMismatch(next !== again);
    if (next !== again) return;
    try {
      await client.changePassword({ current, new: next });
      setCurrent('');
      setNext('');
      setAgain('');
      setSaved(true);
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <form className="card stack" onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">{t('account.password.title')}</h2>
      <label>
        {t('account.password.current')}
        <input type="password" name="current" value={current} onChange={(event) => setCurrent(event.target.value)} autoComplete="current-password" required />
      </label>
      <label>
        {t('account.password.new')}
        <input type="password" name="new" value={next} onChange={(event) => setNext(event.target.value)} autoComplete="new-password" required minLength={12} aria-describedby="password-help" />
      </label>
      <label>
        {t('account.password.again')}
        <input type="password" name="again" value={again} onChange={(event) => setAgain(event.target.value)} autoComplete="new-password" required />
      </label>
      <p className="hint" id="password-help">
        {t('account.password.help')}
      </p>
      {mismatch && (
        <p className="error" role="alert">
          {t('account.password.mismatch')}
        </p>
      )}
      <ErrorNote error={error} />
      <p role="status" className="meta">
        {saved ? t('account.password.saved') : ''}
      </p>
      <div>
        <button type="submit">{t('account.password.change')}</button>
      </div>
    </form>
  );
}

function OwnTokens() {
  const { client, t, locale } = usePage();
  const tokens = useResource(['own-tokens'], () => client.listOwnTokens());
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await client.createOwnToken({ name: name.trim() });
      setCreated({ name: answer.name, token: answer.token });
      setName('');
      tokens.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const revoke = async (id: string) => {
    setError(undefined);
    try {
      await client.revokeOwnToken(id);
      tokens.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section className="card stack" aria-labelledby="tokens-title">
      <h2 id="tokens-title">{t('account.tokens.title')}</h2>
      <p className="hint">{t('account.tokens.help')}</p>
      {created && <SecretOnce label={t('account.tokens.created', { name: created.name })} secret={created.token} onDismiss={() => setCreated(null)} />}
      <form className="fields" onSubmit={create}>
        <label>
          {t('account.tokens.name')}
          <input name="tokenName" value={name} onChange={(event) => setName(event.target.value)} required maxLength={100} autoComplete="off" />
        </label>
        <div>
          <button type="submit">{t('account.tokens.create')}</button>
        </div>
      </form>
      <ErrorNote error={error ?? tokens.error} />
      {tokens.data?.tokens.length === 0 && <p>{t('account.tokens.none')}</p>}
      <ul className="list">
        {tokens.data?.tokens.map((token) => (
          <li key={token.id} className="row">
            <span>
              <strong>{token.name}</strong> <span className="meta">{t('account.tokens.createdAt', { date: formatDate(token.createdAt, locale) })}</span>
            </span>
            <button type="button" onClick={() => void revoke(token.id)} aria-label={t('account.tokens.revokeNamed', { name: token.name })}>
              {t('account.tokens.revoke')}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
