/**
 * The partition explorer of a server in rescue: pick a device, browse it (read-only, symlinks shown,
 * never followed), view a file by ranges, download a file or a whole folder (tar), and read the
 * installed system's journal.
 */
import { useState } from 'react';
import type { FileEntry } from '@lifeboat/core/api';
import { formatBytes, formatDate } from '../common/format.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { explorableDevices } from './devices.js';
import { FileViewer } from './file-viewer.js';
import { childPath, downloadUrl } from './paths.js';
import { JournalView } from './journal-view.js';

/** The explorer section of a server's page. */
export function ExplorerPanel({ server }: { readonly server: string }) {
  const { client, t, locale } = usePage();
  const inventory = useResource(['inventory', server], () => client.getInventory(server));
  const devices = explorableDevices(inventory.data?.inventory);
  const [device, setDevice] = useState('');
  const [typed, setTyped] = useState('');
  const [path, setPath] = useState('/');
  const [viewing, setViewing] = useState<string | null>(null);
  const listing = useResource(device ? ['files', server, device, path] : null, () => client.listFiles(server, device, path));

  const open = (name: string) => {
    setDevice(name);
    setPath('/');
    setViewing(null);
  };
  const crumbs = path.split('/').filter(Boolean);

  return (
    <section className="stack" aria-labelledby="files-title">
      <h2 id="files-title" className="visually-hidden">{t('files.title')}</h2>
      <ErrorNote error={inventory.error} />
      <form
        className="fields"
        onSubmit={(event) => {
          event.preventDefault();
          if (typed.trim()) open(typed.trim());
        }}
      >
        <label>
          {t('files.device')}
          <select value={devices.some((item) => item.name === device) ? device : ''} onChange={(event) => event.target.value && open(event.target.value)} name="device">
            <option value="">{devices.length ? t('files.pickDevice') : t('files.noDevices')}</option>
            {devices.map((item) => (
              <option key={item.name} value={item.name}>
                {[item.name, item.fstype, item.label, item.size === null ? null : formatBytes(item.size, locale)].filter(Boolean).join(' · ')}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('files.otherDevice')}
          <input name="otherDevice" value={typed} onChange={(event) => setTyped(event.target.value)} placeholder="sda1, vg0/root" autoComplete="off" spellCheck={false} />
        </label>
        <div>
          <button type="submit">{t('files.open')}</button>
        </div>
      </form>

      {device && (
        <>
          <nav aria-label={t('files.breadcrumb')} className="breadcrumb">
            <ol>
              <li>
                <button type="button" className="link" onClick={() => { setPath('/'); setViewing(null); }}>
                  {device}:/
                </button>
              </li>
              {crumbs.map((crumb, index) => (
                <li key={index}>
                  <button type="button" className="link" onClick={() => { setPath(`/${crumbs.slice(0, index + 1).join('/')}`); setViewing(null); }} aria-current={index === crumbs.length - 1 ? 'location' : undefined}>
                    {crumb}
                  </button>
                </li>
              ))}
            </ol>
          </nav>
          <div className="row actions">
            <a className="button" href={downloadUrl(server, device, path)} download>
              {t('files.downloadFolder', { path })}
            </a>
          </div>
          <ErrorNote error={listing.error} />
          {listing.loading && <p aria-busy="true">{t('files.loading')}</p>}
          {listing.data && listing.data.device === device && (
            <div className="table-wrap">
              <table className="files">
                <caption className="visually-hidden">{t('files.listingOf', { path: listing.data.path, device })}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('files.name')}</th>
                    <th scope="col">{t('files.size')}</th>
                    <th scope="col" className="wide">{t('files.modified')}</th>
                    <th scope="col">{t('files.actions')}</th>
                  </tr>
                </thead>
                <tbody>
                  {listing.data.path !== '/' && (
                    <tr>
                      <td colSpan={4}>
                        <button type="button" className="link" onClick={() => { setPath(childPath(listing.data!.path, '..')); setViewing(null); }}>
                          {t('files.up')}
                        </button>
                      </td>
                    </tr>
                  )}
                  {listing.data.entries.map((entry) => (
                    <FileRow key={entry.name} entry={entry} path={childPath(listing.data!.path, entry.name)} server={server} device={device} onOpenDirectory={(next) => { setPath(next); setViewing(null); }} onView={setViewing} />
                  ))}
                </tbody>
              </table>
              {listing.data.truncated && <p className="hint">{t('files.truncated')}</p>}
            </div>
          )}
          {viewing && <FileViewer server={server} device={device} path={viewing} onClose={() => setViewing(null)} />}
        </>
      )}
      <JournalView server={server} devices={devices.map((item) => item.name)} />
    </section>
  );
}

function FileRow(props: { readonly entry: FileEntry; readonly path: string; readonly server: string; readonly device: string; readonly onOpenDirectory: (path: string) => void; readonly onView: (path: string) => void }) {
  const { t, locale } = usePage();
  const { entry, path } = props;
  return (
    <tr>
      <td>
        {entry.type === 'directory' ? (
          <button type="button" className="link" onClick={() => props.onOpenDirectory(path)}>
            <span aria-hidden="true">📁 </span>
            {entry.name}/
          </button>
        ) : entry.type === 'file' ? (
          <button type="button" className="link" onClick={() => props.onView(path)} aria-label={t('files.viewFile', { name: entry.name })}>
            {entry.name}
          </button>
        ) : entry.type === 'symlink' ? (
          <span>
            {entry.name} <span className="meta">→ {entry.target}</span>
          </span>
        ) : (
          <span>{entry.name}</span>
        )}
      </td>
      <td>{entry.type === 'file' ? formatBytes(entry.size, locale) : ''}</td>
      <td className="wide">{formatDate(entry.mtime, locale)}</td>
      <td>
        {(entry.type === 'file' || entry.type === 'directory') && (
          <a href={downloadUrl(props.server, props.device, path)} download aria-label={t(entry.type === 'file' ? 'files.downloadFileNamed' : 'files.downloadFolderNamed', { name: entry.name })}>
            {t('files.download')}
          </a>
        )}
      </td>
    </tr>
  );
}
