/**
 * Refused requests for this rescue's boot (issue 14): the boot script asked for, or the boot
 * credential presented, from another address than the one this boot is bound to. Someone on the
 * provisioning network may have tried to take the rescue over: the customer must see it before
 * trusting the host keys shown.
 */
import type { RescueView } from '@lifeboat/core/api';
import type { MessageKey } from '../i18n/en.js';
import { useI18n } from '../i18n/i18n.js';

type Alert = NonNullable<RescueView['alerts']>[number];

const kinds: Record<string, MessageKey> = {
  boot_script_other_address: 'rescue.alert.boot_script_other_address',
  redeem_other_address: 'rescue.alert.redeem_other_address',
  redeem_invalid: 'rescue.alert.redeem_invalid',
};

/** The alerts card; nothing when there is none. */
export function BootAlerts({ alerts }: { alerts: readonly Alert[] | undefined }) {
  const { t, dateTime } = useI18n();
  if (!alerts || alerts.length === 0) return null;
  return (
    <section className="card alert-card" aria-labelledby="boot-alerts-title">
      <h2 id="boot-alerts-title" className="warning-text">
        {t('rescue.alertsTitle')}
      </h2>
      <p>{t('rescue.alertsHint')}</p>
      <ul className="boot-alerts">
        {alerts.map((alert) => {
          const key = kinds[alert.kind];
          return (
            <li key={`${alert.at}-${alert.kind}-${alert.address}`} data-kind={alert.kind}>
              <time dateTime={alert.at}>{dateTime(alert.at)}</time> {key ? t(key, { address: alert.address }) : alert.message}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
