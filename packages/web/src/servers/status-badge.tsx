/**
 * A server's rescue status as a badge: Active; Rescue requested / Preparing rescue in orange; Rescue in
 * red; Rescue failed / Exit failed with the reason; Exiting rescue. Colour is never the only signal:
 * the text says the status and failures carry a mark.
 */
import type { RescueState } from '@lifeboat/core/rescue-state';
import { statusTone } from './status-tone.js';
import { useI18n } from '../i18n/i18n.js';

/** The status, and the reason of a failure below it. */
export function StatusBadge({ state, reason, showReason = true }: { state: RescueState; reason?: string | null; showReason?: boolean }) {
  const { t } = useI18n();
  const tone = statusTone(state);
  return (
    <span className="status">
      <span className={`badge badge-${tone}`} data-state={state}>
        {tone === 'failed' && <span aria-hidden="true">⚠ </span>}
        {tone === 'pending' && <span className="spinner" aria-hidden="true" />}
        {t(`status.${state}`)}
      </span>
      {showReason && tone === 'failed' && reason && <span className="reason">{t('server.failedBecause', { reason })}</span>}
    </span>
  );
}
