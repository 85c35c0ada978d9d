/** The lease: when it ends, a countdown (each minute; each second in the last one), and extend. */
import type { RescueView } from '@lifeboat/core/api';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { queryKeys, useClient } from '../api/client.js';
import { errorMessage } from '../i18n/error-message.js';
import { useI18n } from '../i18n/i18n.js';

/** Lease lengths offered (the control plane checks the maximum). */
export const leaseChoices = ['1h', '4h', '24h', '3d', '7d'] as const;

function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** The lease panel of a server in rescue (or on its way there). */
export function Lease({ server, rescue }: { server: string; rescue: RescueView }) {
  const i18n = useI18n();
  const { t, dateTime, duration } = i18n;
  const client = useClient();
  const queryClient = useQueryClient();
  const [choice, setChoice] = useState<string>('24h');
  const expiresAt = rescue.expiresAt ? Date.parse(rescue.expiresAt) : null;
  const now = useNow(expiresAt !== null && expiresAt - Date.now() < 120_000 ? 1000 : 15_000);
  const extend = useMutation({
    mutationFn: (expiresIn: string) => client.extendRescue(server, { expiresIn }),
    onSuccess: (view) => queryClient.setQueryData(queryKeys.rescue(server), view),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    extend.mutate(choice);
  };
  if (expiresAt === null) return null;
  const left = expiresAt - now;
  return (
    <section className="card" aria-labelledby="lease-title">
      <h2 id="lease-title">{t('rescue.leaseTitle')}</h2>
      <p>
        <strong className="countdown" data-left-ms={Math.max(0, left)}>
          {left > 0 ? t('rescue.leaseLeft', { left: duration(left) }) : t('rescue.leaseOver')}
        </strong>{' '}
        <span className="muted">{t('rescue.leaseEnds', { at: dateTime(rescue.expiresAt as string) })}</span>
      </p>
      <form className="inline-form" onSubmit={submit}>
        <label className="field inline">
          <span>{t('rescue.extendBy')}</span>
          <select value={choice} onChange={(e) => setChoice(e.target.value)}>
            {leaseChoices.map((c) => (
              <option key={c} value={c}>
                {t(`duration.${c}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={extend.isPending}>
          {t('rescue.extend')}
        </button>
      </form>
      <div role="status" className={extend.isError ? 'error-text' : 'muted'}>
        {extend.isError ? errorMessage(i18n, extend.error) : extend.isSuccess ? t('rescue.extended') : ''}
      </div>
    </section>
  );
}
