/** A secret shown once (a rescue password, a new API token): copy it, then say it is saved to hide it. */
import { useState } from 'react';
import { usePage } from './page-context.js';

/** The secret with a copy button and an "I have saved it" dismiss; `onDismiss` forgets it. */
export function SecretOnce({ label, secret, onDismiss }: { readonly label: string; readonly secret: string; readonly onDismiss: () => void }) {
  const { t } = usePage();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied(true);
    } catch {
      // No clipboard (an insecure context, a denied permission): the text stays selectable.
      setCopied(false);
    }
  };
  return (
    <div className="card secret" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong> — {t('account.secret.once')}
      </p>
      <code className="secret-value" data-secret="true">
        {secret}
      </code>
      <div className="row actions">
        <button type="button" onClick={copy}>
          {t('account.secret.copy')}
        </button>
        <button type="button" onClick={onDismiss}>
          {t('account.secret.saved')}
        </button>
      </div>
      <p className="visually-hidden" aria-live="polite">
        {copied ? t('account.secret.copied') : ''}
      </p>
    </div>
  );
}
