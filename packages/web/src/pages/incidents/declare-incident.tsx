/** Declares an incident on a server with chosen hardware test results attached (copies taken now). */
import { useState, type FormEvent } from 'react';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { TestStatus } from '../tests/test-status.js';

/** The declaration form of a server; goes to the new incident once declared. */
export function DeclareIncident({ server }: { readonly server: string }) {
  const { client, t, navigate } = usePage();
  const tests = useResource(['tests', server], () => client.listTests(server));
  const [title, setTitle] = useState('');
  const [message, setMessage] = useState('');
  const [attached, setAttached] = useState<ReadonlySet<string>>(new Set());
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const toggle = (id: string, on: boolean) =>
    setAttached((previous) => {
      const next = new Set(previous);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await client.reportIncident(server, { title: title.trim(), message: message.trim(), ...(attached.size ? { tests: [...attached] } : {}) });
      navigate(`/incidents/${encodeURIComponent(created.id)}`);
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} aria-label={t('incidents.declare.title', { server })}>
      <label>
        {t('incidents.declare.subject')}
        <input name="title" value={title} onChange={(event) => setTitle(event.target.value)} required maxLength={200} />
      </label>
      <label>
        {t('incidents.declare.message')}
        <textarea name="message" value={message} onChange={(event) => setMessage(event.target.value)} required maxLength={10000} rows={6} />
      </label>
      <fieldset>
        <legend>{t('incidents.declare.attach')}</legend>
        <ErrorNote error={tests.error} />
        {tests.data?.tests.length === 0 && <p className="hint">{t('incidents.declare.noTests')}</p>}
        {tests.data?.tests.map((test) => (
          <label key={test.id} className="check">
            <input type="checkbox" name="tests" value={test.id} checked={attached.has(test.id)} onChange={(event) => toggle(test.id, event.target.checked)} />
            {t(`tests.kind.${test.kind}`)}
            {test.device ? ` · ${test.device}` : ''} <TestStatus status={test.status} /> {test.summary ?? ''}
          </label>
        ))}
      </fieldset>
      <ErrorNote error={error} />
      <div>
        <button type="submit" disabled={busy}>
          {t('incidents.declare.submit')}
        </button>
      </div>
    </form>
  );
}
