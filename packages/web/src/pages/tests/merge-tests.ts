/** The tests a page shows: the loaded history with the live copies the event stream brought. */
import { finishedTestStatuses, type HardwareTestView } from '@lifeboat/core/api';

/** The loaded list with newer live copies applied and tests started since added, newest first. */
export function mergeTests(loaded: readonly HardwareTestView[], live: ReadonlyMap<string, HardwareTestView>): HardwareTestView[] {
  const byId = new Map(loaded.map((test) => [test.id, test]));
  for (const [id, test] of live) {
    const known = byId.get(id);
    // An event can arrive before the list's answer that already had a later state: keep the more advanced.
    if (!known || !finishedTestStatuses.has(known.status) || finishedTestStatuses.has(test.status)) byId.set(id, test);
  }
  return [...byId.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
}
