/** `/servers/:name/incidents/new`: declare an incident on a server. */
import { usePage } from '../common/page-context.js';
import { ServerPageHeader } from '../common/server-tabs.js';
import { DeclareIncident } from './declare-incident.js';

/** The page. */
export function DeclareIncidentPage({ name }: { readonly name: string }) {
  const { t } = usePage();
  return (
    <section className="page stack">
      <ServerPageHeader name={name} title={t('incidents.declare.title', { server: name })} />
      <DeclareIncident server={name} />
    </section>
  );
}
