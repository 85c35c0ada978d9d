/** An incident's state as a badge. */
import type { IncidentView } from '@lifeboat/core/api';
import { usePage } from '../common/page-context.js';

const tone: Record<IncidentView['state'], string> = { open: 'danger', acknowledged: 'warning', resolved: 'success' };

/** The state badge. */
export function IncidentState({ state }: { readonly state: IncidentView['state'] }) {
  const { t } = usePage();
  return <span className={`badge badge-${tone[state]}`}>{t(`incidents.state.${state}`)}</span>;
}
