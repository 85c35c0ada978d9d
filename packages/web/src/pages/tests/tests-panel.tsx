/**
 * A server's hardware tests: start one, follow it live (SSE `test` events move the bars without a
 * reload), cancel it, read its results, its full output and the history (kept after the rescue ends).
 */
import { useState } from 'react';
import { finishedTestStatuses, type HardwareTestView } from '@lifeboat/core/api';
import { formatDate } from '../common/format.js';
import { useLiveEvents } from '../common/live-events.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { mergeTests } from './merge-tests.js';
import { TestForm } from './test-form.js';
import { TestProgress, TestStatus } from './test-status.js';

/** The tests section of a server's page; `canRun` false hides the start form (not in rescue). */
export function TestsPanel({ server, canRun }: { readonly server: string; readonly canRun: boolean }) {
  const { client, t } = usePage();
  const list = useResource(['tests', server], () => client.listTests(server));
  // Live copies of tests changed since the list was loaded, by id (the newest answer wins).
  const [live, setLive] = useState<ReadonlyMap<string, HardwareTestView>>(new Map());
  const [announcement, setAnnouncement] = useState('');
  useLiveEvents(server, {
    onTest: ({ test }) => {
      if (test.server !== server) return;
      setLive((previous) => new Map(previous).set(test.id, test));
      if (finishedTestStatuses.has(test.status)) setAnnouncement(t('tests.finished', { kind: t(`tests.kind.${test.kind}`), status: t(`tests.status.${test.status}`) }));
    },
    onOpen: () => list.reload(),
  });
  const merged = mergeTests(list.data?.tests ?? [], live);

  return (
    <section className="stack" aria-labelledby="tests-title">
      <h2 id="tests-title" className="visually-hidden">{t('tests.title')}</h2>
      <p className="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      {canRun ? <TestForm server={server} onStarted={(test) => setLive((previous) => new Map(previous).set(test.id, test))} /> : <p className="hint">{t('tests.needsRescue')}</p>}
      <ErrorNote error={list.error} />
      {list.loading && <p aria-busy="true">{t('tests.loading')}</p>}
      {!list.loading && merged.length === 0 && <p>{t('tests.none')}</p>}
      <ol className="cards" aria-label={t('tests.history')}>
        {merged.map((test) => (
          <li key={test.id}>
            <TestCard server={server} test={test} onChange={(changed) => setLive((previous) => new Map(previous).set(changed.id, changed))} />
          </li>
        ))}
      </ol>
    </section>
  );
}

function TestCard({ server, test, onChange }: { readonly server: string; readonly test: HardwareTestView; readonly onChange: (test: HardwareTestView) => void }) {
  const { client, t, locale } = usePage();
  const [output, setOutput] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const title = test.device ? `${t(`tests.kind.${test.kind}`)} · ${test.device}` : t(`tests.kind.${test.kind}`);
  const finished = finishedTestStatuses.has(test.status);

  const cancel = async () => {
    setBusy(true);
    setError(undefined);
    try {
      onChange(await client.cancelTest(server, test.id));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  const toggleOutput = async () => {
    if (output !== null) return setOutput(null);
    setError(undefined);
    try {
      setOutput(await client.getTestOutput(server, test.id));
    } catch (caught) {
      setError(caught);
    }
  };

  return (
    <article className="card test-card" aria-labelledby={`test-${test.id}`} data-test-id={test.id}>
      <header className="row">
        <h3 id={`test-${test.id}`}>{title}</h3>
        <TestStatus status={test.status} />
      </header>
      <TestProgress test={test} />
      {test.summary && <p className="summary">{test.summary}</p>}
      <p className="meta">
        {t('tests.startedAt', { date: formatDate(test.startedAt ?? test.createdAt, locale) })}
        {test.endedAt && ` · ${t('tests.endedAt', { date: formatDate(test.endedAt, locale) })}`}
        {test.origin === 'ssh' && ` · ${t('tests.fromSsh')}`}
      </p>
      {finished && test.result !== null && test.result !== undefined && (
        <details>
          <summary>{t('tests.result')}</summary>
          <pre className="output">{JSON.stringify(test.result, null, 2)}</pre>
        </details>
      )}
      <ErrorNote error={error} />
      <div className="row actions">
        {!finished && (
          <button type="button" onClick={cancel} disabled={busy} aria-label={t('tests.cancelOf', { test: title })}>
            {t('tests.cancel')}
          </button>
        )}
        <button type="button" onClick={toggleOutput} aria-expanded={output !== null} aria-controls={`output-${test.id}`} aria-label={t(output === null ? 'tests.showOutputOf' : 'tests.hideOutputOf', { test: title })}>
          {t(output === null ? 'tests.showOutput' : 'tests.hideOutput')}
        </button>
      </div>
      {output !== null && (
        <pre className="output" id={`output-${test.id}`} tabIndex={0} aria-label={t('tests.outputOf', { test: title })}>
          {output || t('tests.noOutput')}
        </pre>
      )}
    </article>
  );
}
