/** The sign-in page: user name and password; errors as sentences (wrong password, rate limit). */
import { useId, useState, type FormEvent } from 'react';
import { useI18n, LanguageSwitch } from '../i18n/i18n.js';
import { errorMessage } from '../i18n/error-message.js';
import { useSession } from './session.js';

/** Shown whenever nobody is signed in. */
export function SignInPage({ notice }: { notice?: 'signed-out' | 'expired' | undefined }) {
  const i18n = useI18n();
  const { t } = i18n;
  const { signIn } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(form.get('name') ?? '').trim(), String(form.get('password') ?? ''));
    } catch (caught) {
      setError(errorMessage(i18n, caught));
      setBusy(false);
    }
  };

  return (
    <div className="sign-in">
      <header className="sign-in-header">
        <span className="brand" aria-hidden="true">
          <img src="/favicon.svg" alt="" width="28" height="28" /> {t('app.name')}
        </span>
        <LanguageSwitch />
      </header>
      <main id="main" className="card sign-in-card">
        <h1 tabIndex={-1}>{t('signIn.title')}</h1>
        {notice === 'expired' && <p className="notice" role="status">{t('errors.UNAUTHORIZED')}</p>}
        {notice === 'signed-out' && <p className="notice" role="status">{t('signIn.signedOut')}</p>}
        <form onSubmit={submit} aria-describedby={error ? errorId : undefined} noValidate={false}>
          <label className="field">
            <span>{t('signIn.name')}</span>
            <input name="name" autoComplete="username" required autoCapitalize="none" spellCheck={false} />
          </label>
          <label className="field">
            <span>{t('signIn.password')}</span>
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <div role="alert" id={errorId} className="error-text">
            {error}
          </div>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t('signIn.busy') : t('signIn.submit')}
          </button>
        </form>
        <p className="hint">{t('signIn.firstOperator')}</p>
      </main>
    </div>
  );
}
