/** The installed system's journal (`GET /v1/servers/{name}/journal`), as journalctl prints it. */
import { useState, type FormEvent } from 'react';
import { journalPriorities, type JournalPriority } from '@lifeboat/core/api';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';

/** The journal form and its text; `devices` are offered, any other can be typed. */
export function JournalView({ server, devices }: { readonly server: string; readonly devices: readonly string[] }) {
  const { client, t } = usePage();
  const [device, setDevice] = useState('');
  const [lines, setLines] = useState(200);
  const [boot, setBoot] = useState(-1);
  const [priority, setPriority] = useState<JournalPriority | ''>('');
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setText(await client.journal(server, { device: device.trim(), lines, boot, ...(priority ? { priority } : {}) }));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} aria-labelledby="journal-title">
      <h3 id="journal-title">{t('files.journal.title')}</h3>
      <div className="fields">
        <label>
          {t('files.journal.device')}
          <input name="journalDevice" list="journal-devices" value={device} onChange={(event) => setDevice(event.target.value)} required placeholder="sda1" autoComplete="off" spellCheck={false} />
          <datalist id="journal-devices">
            {devices.map((name) => (
              <option key={name} value={name} />
            ))}
          </datalist>
        </label>
        <label>
          {t('files.journal.lines')}
          <input name="lines" type="number" min={1} max={100000} value={lines} onChange={(event) => setLines(Number(event.target.value) || 200)} />
        </label>
        <label>
          {t('files.journal.boot')}
          <input name="boot" type="number" min={-1000} max={0} value={boot} onChange={(event) => setBoot(Number(event.target.value))} />
        </label>
        <label>
          {t('files.journal.priority')}
          <select name="priority" value={priority} onChange={(event) => setPriority(event.target.value as JournalPriority | '')}>
            <option value="">{t('files.journal.allPriorities')}</option>
            {journalPriorities.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorNote error={error} />
      <div>
        <button type="submit" disabled={busy}>
          {t('files.journal.read')}
        </button>
      </div>
      {busy && <p aria-busy="true">{t('files.loading')}</p>}
      {text !== null && (
        <pre className="output journal" tabIndex={0} aria-label={t('files.journal.text')}>
          {text || t('files.journal.empty')}
        </pre>
      )}
    </form>
  );
}
