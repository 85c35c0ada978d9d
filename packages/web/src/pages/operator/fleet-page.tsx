/**
 * The fleet across tenants (technicians and operators): every server with its tenant and rescue
 * state, searched and filtered, kept live by the shell's event stream; operators validate a server's BMC here.
 */
import { useState } from 'react';
import type { BmcValidation } from '@lifeboat/core/api';
import { filterFleet } from './filters.js';
import { queryKeys } from '../../api/client.js';
import { useLiveEvents } from '../common/live-events.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';

const stateTone: Record<string, string> = {
  active: 'success',
  rescue_requested: 'warning',
  preparing_rescue: 'warning',
  rescue: 'danger',
  exiting_rescue: 'warning',
  rescue_failed: 'danger',
  exit_failed: 'danger',
};

/** `/fleet`. */
export function FleetPage() {
  const { client, t, plural, user } = usePage();
  // The shell's event stream updates this cached list in place: no reload, no copy kept here.
  const list = useResource(queryKeys.servers, () => client.listServers());
  const [filter, setFilter] = useState({ text: '', tenant: '', state: '' });
  useLiveEvents(null, { onOpen: () => list.reload() });
  const servers = list.data?.servers ?? [];
  const tenants = [...new Set(servers.map((server) => server.tenant))].sort();
  const shown = filterFleet(servers, filter);

  return (
    <section className="page stack" aria-labelledby="fleet-title">
      <div className="row">
        <h1 id="fleet-title" tabIndex={-1}>{t('ops.fleet.title')}</h1>
        {user.role === 'operator' && (
          <AppLink to="/fleet/new" className="button">
            {t('ops.register.title')}
          </AppLink>
        )}
      </div>
      <form className="fields" role="search" aria-label={t('ops.fleet.filters')} onSubmit={(event) => event.preventDefault()}>
        <label>
          {t('ops.fleet.search')}
          <input type="search" name="search" value={filter.text} onChange={(event) => setFilter({ ...filter, text: event.target.value })} autoComplete="off" />
        </label>
        <label>
          {t('ops.fleet.tenant')}
          <select name="tenant" value={filter.tenant} onChange={(event) => setFilter({ ...filter, tenant: event.target.value })}>
            <option value="">{t('ops.fleet.allTenants')}</option>
            {tenants.map((tenant) => (
              <option key={tenant} value={tenant}>
                {tenant}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('ops.fleet.state')}
          <select name="state" value={filter.state} onChange={(event) => setFilter({ ...filter, state: event.target.value })}>
            <option value="">{t('ops.fleet.allStates')}</option>
            {Object.keys(stateTone).map((state) => (
              <option key={state} value={state}>
                {t(`ops.state.${state}`)}
              </option>
            ))}
          </select>
        </label>
      </form>
      <ErrorNote error={list.error} />
      {list.loading && <p aria-busy="true">{t('ops.loading')}</p>}
      <p className="meta" aria-live="polite">
        {plural('ops.fleet.count', shown.length, { shown: shown.length, total: servers.length })}
      </p>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{t('ops.fleet.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('ops.fleet.server')}</th>
              <th scope="col">{t('ops.fleet.tenant')}</th>
              <th scope="col">{t('ops.fleet.state')}</th>
              <th scope="col" className="wide">{t('ops.fleet.bmc')}</th>
              {user.role === 'operator' && <th scope="col">{t('ops.fleet.actions')}</th>}
            </tr>
          </thead>
          <tbody>
            {shown.map((server) => (
              <tr key={server.id}>
                <td>
                  <AppLink to={`/servers/${encodeURIComponent(server.name)}`}>{server.name}</AppLink>
                </td>
                <td>{server.tenant}</td>
                <td>
                  <span className={`badge badge-${stateTone[server.state] ?? 'neutral'}`}>{t(`ops.state.${server.state}`)}</span>
                  {server.reason && <span className="meta"> {server.reason}</span>}
                </td>
                <td className="wide">
                  {server.bmc.driver} · {server.bmc.url}
                </td>
                {user.role === 'operator' && (
                  <td>
                    <ValidateBmc server={server.name} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Reaches a server's BMC and says what it answered (power state) or why it failed, as a sentence. */
export function ValidateBmc({ server }: { readonly server: string }) {
  const { client, t, errorText } = usePage();
  const [answer, setAnswer] = useState<{ ok: BmcValidation } | { error: unknown } | null>(null);
  const [busy, setBusy] = useState(false);
  const validate = async () => {
    setBusy(true);
    setAnswer(null);
    try {
      setAnswer({ ok: await client.validateServer(server) });
    } catch (error) {
      setAnswer({ error });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack">
      <button type="button" onClick={validate} disabled={busy} aria-label={t('ops.validateOf', { server })}>
        {t('ops.validate')}
      </button>
      <span role="status" className={answer && 'error' in answer ? 'error' : 'meta'}>
        {busy ? t('ops.validating') : answer === null ? '' : 'ok' in answer ? t('ops.validated', { driver: answer.ok.driver, power: t(`ops.power.${answer.ok.powerState}`) }) : errorText(answer.error)}
      </span>
    </div>
  );
}
