/**
 * Changes a server's BMC record (operators): its address, user or password, when the BMC moved or
 * its password changed; then validates it. Fields left empty stay as they are.
 */
import { useState, type FormEvent } from 'react';
import type { BmcChange, ServerView } from '@lifeboat/core/api';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { ValidateBmc } from './fleet-page.js';

/** `/fleet/:name/bmc`. */
export function ChangeBmcPage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(['server', name], () => client.getServer(name));
  const [form, setForm] = useState({ bmcUrl: '', bmcUser: '', bmcPassword: '' });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [changed, setChanged] = useState<ServerView | null>(null);
  const field = (key: keyof typeof form) => ({ name: key, value: form[key], onChange: (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value }) });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const change: BmcChange = {
      ...(form.bmcUrl.trim() ? { url: form.bmcUrl.trim() } : {}),
      ...(form.bmcUser.trim() ? { user: form.bmcUser.trim() } : {}),
      ...(form.bmcPassword ? { password: form.bmcPassword } : {}),
    };
    setBusy(true);
    setError(undefined);
    setChanged(null);
    try {
      setChanged(await client.updateBmc(name, change));
      setForm({ bmcUrl: '', bmcUser: '', bmcPassword: '' });
      server.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const current = server.data?.bmc;
  return (
    <section className="page stack" aria-labelledby="bmc-title">
      <p>
        <AppLink to="/fleet">{t('ops.fleet.back')}</AppLink>
      </p>
      <h1 id="bmc-title" tabIndex={-1}>{t('ops.bmc.title', { server: name })}</h1>
      {current && <p className="meta">{t('ops.bmc.current', { driver: current.driver, url: current.url, user: current.user || '—' })}</p>}
      <p>{t('ops.bmc.help')}</p>
      <form className="stack" onSubmit={submit}>
        <div className="fields">
          <label>
            {t('ops.register.bmcUrl')}
            <input {...field('bmcUrl')} placeholder={current?.url ?? 'ipmi://10.0.0.5:623'} autoComplete="off" spellCheck={false} />
          </label>
          <label>
            {t('ops.register.bmcUser')}
            <input {...field('bmcUser')} placeholder={current?.user ?? ''} autoComplete="off" />
          </label>
          <label>
            {t('ops.bmc.newPassword')}
            <input {...field('bmcPassword')} type="password" autoComplete="new-password" />
          </label>
        </div>
        <ErrorNote error={error ?? server.error} />
        <div>
          {/* Empty fields stay as they are: with all of them empty there is nothing to save. */}
          <button type="submit" disabled={busy || !(form.bmcUrl.trim() || form.bmcUser.trim() || form.bmcPassword)}>
            {t('ops.bmc.submit')}
          </button>
        </div>
      </form>
      {changed && (
        <div className="card stack" role="status">
          <p>{t('ops.bmc.changed', { server: changed.name })}</p>
          <ValidateBmc server={changed.name} />
        </div>
      )}
    </section>
  );
}
