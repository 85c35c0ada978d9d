/**
 * A server's page: status (live), the password shown once after entering, SSH access, the boot
 * timeline, the lease with extend, exit rescue, the rescue doctor's findings (the last rescue's outside
 * rescue), the console log of the last boot, and the server's details.
 */
import { ServerTabs } from '../pages/common/server-tabs.js';
import { LastBootLog } from '../pages/console/console-log.js';
import { DoctorSection } from '../pages/doctor/doctor-section.js';
import type { RescueTaskAnswer } from '@lifeboat/core/client';
import { canEnterRescue, canExitRescue, canExtendRescue, isEnteringRescue, isInRescue } from '@lifeboat/core/rescue-state';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { queryKeys, useClient } from '../api/client.js';
import { errorMessage } from '../i18n/error-message.js';
import { useI18n } from '../i18n/i18n.js';
import { Link } from '../router/router.js';
import { StatusBadge } from '../servers/status-badge.js';
import { BootAlerts } from './boot-alerts.js';
import { BootTimeline } from './boot-timeline.js';
import { CredentialsOnce } from './credentials-once.js';
import { EnterRescueForm } from './enter-rescue-form.js';
import { Lease } from './lease.js';
import { SshAccess } from './ssh-access.js';

/** `/servers/:name`. */
export function ServerPage({ name }: { name: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const client = useClient();
  const queryClient = useQueryClient();
  const server = useQuery({ queryKey: queryKeys.server(name), queryFn: () => client.getServer(name) });
  const state = server.data?.state;
  const rescue = useQuery({
    queryKey: queryKeys.rescue(name),
    queryFn: () => client.getRescue(name),
    enabled: state !== undefined && state !== 'active',
  });
  const tasks = useQuery({ queryKey: queryKeys.tasks(name), queryFn: () => client.listTasks(name), enabled: server.isSuccess });
  // The password of the last enter, until "I have saved it": component state only.
  const [password, setPassword] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const exit = useMutation({
    mutationFn: () => client.exitRescue(name),
    onSuccess: (view) => {
      queryClient.setQueryData(queryKeys.rescue(name), view);
      void queryClient.invalidateQueries({ queryKey: queryKeys.server(name) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.tasks(name) });
      setNotice(t('rescue.exitRequested'));
    },
  });

  // "Rescue requested" / "Exit requested" last until the server gets there.
  useEffect(() => {
    if (state === 'rescue' || state === 'active') setNotice(null);
  }, [state]);

  if (server.isPending) return <p role="status">{t('app.loading')}</p>;
  if (server.isError) {
    return (
      <section className="page">
        <h1 tabIndex={-1}>{name}</h1>
        <p role="alert" className="error-text">
          {errorMessage(i18n, server.error)}
        </p>
        <Link href="/servers">{t('app.backToServers')}</Link>
      </section>
    );
  }
  const view = server.data;
  const onEntered = (answer: RescueTaskAnswer) => {
    if (answer.ssh.password) setPassword(answer.ssh.password);
    // The cache gets the answer without its password: that lives in this component's state only.
    const { password: _shownOnce, ...ssh } = answer.ssh;
    queryClient.setQueryData(queryKeys.rescue(name), { ...answer, ssh });
    setNotice(t('rescue.requested'));
    exit.reset();
  };
  const rescueView = rescue.data;
  const showRescue = rescueView !== undefined && (isInRescue(view.state) || isEnteringRescue(view.state));

  return (
    <section className="page server-page">
      <p className="breadcrumb">
        <Link href="/servers">{t('nav.servers')}</Link>
      </p>
      <div className="page-title">
        <h1 tabIndex={-1}>{view.name}</h1>
        <StatusBadge state={view.state} reason={view.reason} />
      </div>
      <ServerTabs name={view.name} />
      <div role="status" className="notice-line">
        {notice}
      </div>
      {password !== null && <CredentialsOnce password={password} onSaved={() => setPassword(null)} />}
      <div className="grid">
        <div className="column">
          {canEnterRescue(view.state) && <EnterRescueForm server={view} onEntered={onEntered} />}
          {showRescue && <BootAlerts alerts={rescueView.alerts} />}
          {showRescue && isInRescue(view.state) && <SshAccess rescue={rescueView} />}
          {showRescue && canExtendRescue(view.state) && <Lease server={name} rescue={rescueView} />}
          {showRescue && isInRescue(view.state) && rescueView.agent.responding !== null && (
            <p className={rescueView.agent.responding ? 'muted' : 'warning-text'}>
              {t('rescue.agent')}: {rescueView.agent.responding ? t('rescue.agentResponding') : t('rescue.agentSilent')}
            </p>
          )}
          {canExitRescue(view.state) && (
            <section className="card" aria-labelledby="exit-title">
              <h2 id="exit-title">{isInRescue(view.state) ? t('rescue.exit') : t('rescue.cancel')}</h2>
              <p className="hint">{t('rescue.exitConfirm')}</p>
              <div role="alert" className="error-text">
                {exit.isError ? errorMessage(i18n, exit.error) : ''}
              </div>
              <button type="button" className="danger" disabled={exit.isPending} onClick={() => exit.mutate()}>
                {exit.isPending ? t('rescue.exiting') : isInRescue(view.state) ? t('rescue.exit') : t('rescue.cancel')}
              </button>
            </section>
          )}
        </div>
        <div className="column">
          <BootTimeline task={tasks.data?.tasks[0]} />
          <LastBootLog name={view.name} state={view.state} />
          <section className="card" aria-labelledby="details-title">
            <h2 id="details-title">{t('server.details')}</h2>
            <dl className="details">
              <dt>{t('server.macs')}</dt>
              <dd>
                <code translate="no">{view.macs.join(', ')}</code>
              </dd>
              <dt>{t('server.profiles')}</dt>
              <dd>{view.profiles.join(', ')}</dd>
              {view.sshEndpoint && (
                <>
                  <dt>{t('server.sshEndpoint')}</dt>
                  <dd>
                    <code translate="no">{view.sshEndpoint}</code>
                  </dd>
                </>
              )}
            </dl>
          </section>
        </div>
      </div>
      <DoctorSection server={view.name} serverState={view.state} />
    </section>
  );
}
