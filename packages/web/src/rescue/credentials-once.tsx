/**
 * The temporary root password, shown once: it lives only in this component's state (never in the
 * query cache, storage or the URL) until the user says it is saved; no API answer shows it again.
 */
import { useEffect, useRef } from 'react';
import { useI18n } from '../i18n/i18n.js';
import { CopyField } from '../ui/copy-button.js';

/** The password panel; `onSaved` forgets the password. */
export function CredentialsOnce({ password, onSaved }: { password: string; onSaved: () => void }) {
  const { t } = useI18n();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <section className="card once" aria-labelledby="once-title" role="region">
      <h2 id="once-title" tabIndex={-1} ref={heading}>
        {t('rescue.passwordTitle')}
      </h2>
      <p className="warning-text">{t('rescue.passwordOnce')}</p>
      <CopyField label={t('rescue.passwordLabel')} value={password} secret />
      <button type="button" className="primary" onClick={onSaved}>
        {t('rescue.saved')}
      </button>
    </section>
  );
}
