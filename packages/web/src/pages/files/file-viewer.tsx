/** A file's content, read by ranges of 64 KiB (`files/{device}/content`), as text; binary files are offered as a download. */
import { useEffect, useState } from 'react';
import { formatBytes } from '../common/format.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { asText } from './paths.js';

const rangeLength = 64 * 1024;

/** The viewer; `onClose` hides it. */
export function FileViewer({ server, device, path, onClose }: { readonly server: string; readonly device: string; readonly path: string; readonly onClose: () => void }) {
  const { client, t, locale } = usePage();
  const [chunks, setChunks] = useState<Uint8Array[]>([]);
  const [size, setSize] = useState<number | null>(null);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const read = chunks.reduce((total, chunk) => total + chunk.length, 0);

  const more = async (offset: number, reset: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const range = await client.readFile(server, device, path, { offset, length: rangeLength });
      setSize(range.size);
      setChunks((previous) => (reset ? [range.data] : [...previous, range.data]));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setChunks([]);
    setSize(null);
    void more(0, true);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- a new file starts over
  }, [server, device, path]);

  const bytes = new Uint8Array(read);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  // A range may end inside a multi-byte character: decode leniently once something was read.
  const text = asText(bytes) ?? (chunks.length > 1 || (size !== null && read < size) ? new TextDecoder().decode(bytes) : null);

  return (
    <section className="card stack" aria-labelledby="viewer-title">
      <header className="row">
        <h3 id="viewer-title">{path}</h3>
        <button type="button" onClick={onClose}>
          {t('files.closeViewer')}
        </button>
      </header>
      {size !== null && <p className="meta">{t('files.shown', { read: formatBytes(read, locale), size: formatBytes(size, locale) })}</p>}
      <ErrorNote error={error} />
      {busy && chunks.length === 0 && <p aria-busy="true">{t('files.loading')}</p>}
      {chunks.length > 0 && (text === null || bytes.includes(0) ? <p>{t('files.binary')}</p> : (
        <pre className="output" tabIndex={0} aria-label={t('files.contentOf', { path })}>
          {text}
        </pre>
      ))}
      {size !== null && read < size && (
        <div>
          <button type="button" onClick={() => void more(read, false)} disabled={busy}>
            {t('files.more')}
          </button>
        </div>
      )}
    </section>
  );
}
