/**
 * The fleet across tenants (technicians and operators): every server with its tenant and rescue
 * state, searched and filtered, kept live by the shell's event stream; operators validate a server's BMC here, or change it.
 */
import { useState } from 'react';
import type { BmcValidation } from '@lifeboat/core/api';
import { filterFleet } from './filters.js';
import { queryKeys } from '../../api/client.js';
import { useLiveEvents } from '../common/live-events.js';
import { ChoiceSelect, DataTable, ListState } from '../common/data-table.js';
import { AppLink } from '../common/notices.js';
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
  const { client, t, user } = usePage();
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
        <ChoiceSelect label={t('ops.fleet.tenant')} name="tenant" value={filter.tenant} onChange={(tenant) => setFilter({ ...filter, tenant })} choices={tenants} empty={t('ops.fleet.allTenants')} />
        <ChoiceSelect
          label={t('ops.fleet.state')}
          name="state"
          value={filter.state}
          onChange={(state) => setFilter({ ...filter, state })}
          choices={Object.keys(stateTone).map((state) => ({ value: state, label: t(`ops.state.${state}`) }))}
          empty={t('ops.fleet.allStates')}
        />
      </form>
      <ListState error={list.error} loading={list.loading} count={{ key: 'ops.fleet.count', shown: shown.length, total: servers.length }} />
      <DataTable
        caption={t('ops.fleet.title')}
        rows={shown}
        rowKey={(server) => server.id}
        columns={[
          { header: t('ops.fleet.server'), cell: (server) => <AppLink to={`/servers/${encodeURIComponent(server.name)}`}>{server.name}</AppLink> },
          { header: t('ops.fleet.tenant'), cell: (server) => server.tenant },
          {
            header: t('ops.fleet.state'),
            cell: (server) => (
              <>
                <span className={`badge badge-${stateTone[server.state] ?? 'neutral'}`}>{t(`ops.state.${server.state}`)}</span>
                {server.reason && <span className="meta"> {server.reason}</span>}
              </>
            ),
          },
          { header: t('ops.fleet.bmc'), wide: true, cell: (server) => `${server.bmc.driver} · ${server.bmc.url}` },
          user.role === 'operator' && {
            header: t('ops.fleet.actions'),
            cell: (server) => (
              <div className="stack">
                <ValidateBmc server={server.name} />
                <AppLink to={`/fleet/${encodeURIComponent(server.name)}/bmc`} label={t('ops.bmc.changeOf', { server: server.name })}>
                  {t('ops.bmc.change')}
                </AppLink>
              </div>
            ),
          },
        ]}
      />
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
