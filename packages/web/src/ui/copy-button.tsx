/** A button that copies a text, and says so in a live region (or says to copy by hand). */
import { useState } from 'react';
import { useI18n } from '../i18n/i18n.js';

/** Copies `text`; `label` names what is copied for screen readers ("Copy Password"). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const { t } = useI18n();
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <span className="copy">
      <button type="button" onClick={() => void copy()}>
        {state === 'copied' ? t('rescue.copied') : t('rescue.copy')}
        <span className="visually-hidden"> {label}</span>
      </button>
      <span role="status" className={state === 'failed' ? 'error-text' : 'visually-hidden'}>
        {state === 'copied' ? t('rescue.copied') : state === 'failed' ? t('rescue.copyFailed') : ''}
      </span>
    </span>
  );
}

/** A read-only value with its copy button (password, ssh command, known_hosts line). */
export function CopyField({ label, value, secret = false }: { label: string; value: string; secret?: boolean }) {
  return (
    <div className="copy-field">
      <span className="copy-label">{label}</span>
      <div className="copy-row">
        <code className={secret ? 'secret' : undefined} data-copy={label} translate="no">
          {value}
        </code>
        <CopyButton text={value} label={label} />
      </div>
    </div>
  );
}
