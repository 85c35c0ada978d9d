/** How to reach the rescue system: the `ssh` command, the `known_hosts` line(s), the provider's host CA line, the fingerprints. */
import type { RescueView } from '@lifeboat/core/api';
import { useI18n } from '../i18n/i18n.js';
import { CopyField } from '../ui/copy-button.js';
import { sshCommand } from './ssh-command.js';

/** The access panel (once the agent reported its host keys). */
export function SshAccess({ rescue }: { rescue: RescueView }) {
  const { t } = useI18n();
  const command = sshCommand(rescue.ssh);
  const ready = rescue.ssh.knownHosts.length > 0 && command !== null;
  return (
    <section className="card" aria-labelledby="access-title">
      <h2 id="access-title">{t('rescue.access')}</h2>
      {!ready ? (
        <p className="muted">{t('rescue.accessWaiting')}</p>
      ) : (
        <>
          <CopyField label={t('rescue.sshCommand')} value={command} />
          <CopyField label={t('rescue.knownHosts')} value={rescue.ssh.knownHosts.join('\n')} />
          <p className="hint">{t('rescue.knownHostsHelp')}</p>
          {rescue.ssh.certAuthority === undefined ? null : (
            <>
              <CopyField label={t('rescue.certAuthority')} value={rescue.ssh.certAuthority} />
              <p className="hint">{t('rescue.certAuthorityHelp', { server: rescue.server })}</p>
            </>
          )}
          <h3>{t('rescue.fingerprints')}</h3>
          <ul className="fingerprints">
            {rescue.ssh.hostKeyFingerprints.map((fingerprint) => (
              <li key={fingerprint}>
                <code translate="no">{fingerprint}</code>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
