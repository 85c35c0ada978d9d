/** The SSH key store (`/v1/keys`): a customer's tenant keys, a technician's or operator's staff keys. */
import { useState, type FormEvent } from 'react';
import { ErrorNote } from '../common/notices.js';
import { queryKeys } from '../../api/client.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';

/** The keys section of the account page. */
export function SshKeys() {
  const { client, t } = usePage();
  const keys = useResource(queryKeys.sshKeys(), () => client.listKeys());
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const [error, setError] = useState<unknown>();
  const add = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      await client.addKey({ name: name.trim(), publicKey: publicKey.trim() });
      setName('');
      setPublicKey('');
      keys.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const remove = async (keyName: string) => {
    setError(undefined);
    try {
      await client.removeKey(keyName);
      keys.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section className="card stack" aria-labelledby="keys-title">
      <h2 id="keys-title">{t('account.keys.title')}</h2>
      <p className="hint">{t('account.keys.help')}</p>
      <ul className="list">
        {keys.data?.keys.map((key) => (
          <li key={key.name} className="row">
            <span>
              <strong>{key.name}</strong> <code>{key.fingerprint}</code> <span className="meta">{key.type} {key.comment}</span>
            </span>
            <button type="button" onClick={() => void remove(key.name)} aria-label={t('account.keys.removeNamed', { name: key.name })}>
              {t('account.keys.remove')}
            </button>
          </li>
        ))}
      </ul>
      {keys.data?.keys.length === 0 && <p>{t('account.keys.none')}</p>}
      <form className="stack" onSubmit={add}>
        <label>
          {t('account.keys.name')}
          <input name="keyName" value={name} onChange={(event) => setName(event.target.value)} required autoComplete="off" />
        </label>
        <label>
          {t('account.keys.publicKey')}
          <textarea name="publicKey" value={publicKey} onChange={(event) => setPublicKey(event.target.value)} required rows={3} placeholder="ssh-ed25519 AAAA… you@laptop" spellCheck={false} />
        </label>
        <ErrorNote error={error ?? keys.error} />
        <div>
          <button type="submit">{t('account.keys.add')}</button>
        </div>
      </form>
    </section>
  );
}
