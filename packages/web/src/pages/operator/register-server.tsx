/** Registers a server (operators): name, tenant, MACs, BMC and SSH endpoint; then validates its BMC. */
import { useState, type FormEvent } from 'react';
import type { NewServer, ServerView } from '@lifeboat/core/api';
import { ChoiceSelect } from '../common/data-table.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { ValidateBmc } from './fleet-page.js';
import { splitList } from './filters.js';

/** `/fleet/new`. */
export function RegisterServerPage() {
  const { client, t } = usePage();
  const tenants = useResource(['tenants'], () => client.listTenants());
  const [form, setForm] = useState({ name: '', tenant: '', macs: '', bmcUrl: '', bmcUser: '', bmcPassword: '', sshEndpoint: '', profiles: '' });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<ServerView | null>(null);
  const field = (key: keyof typeof form) => ({ name: key, value: form[key], onChange: (event: { target: { value: string } }) => setForm({ ...form, [key]: event.target.value }) });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: NewServer = {
      name: form.name.trim(),
      tenant: form.tenant,
      macs: splitList(form.macs),
      bmc: { url: form.bmcUrl.trim(), ...(form.bmcUser.trim() ? { user: form.bmcUser.trim() } : {}), ...(form.bmcPassword ? { password: form.bmcPassword } : {}) },
      ...(form.sshEndpoint.trim() ? { sshEndpoint: form.sshEndpoint.trim() } : {}),
      ...(splitList(form.profiles).length ? { profiles: splitList(form.profiles) } : {}),
    };
    setBusy(true);
    setError(undefined);
    try {
      setAdded(await client.addServer(body));
      setForm({ ...form, name: '', macs: '', bmcPassword: '' });
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="page stack" aria-labelledby="register-title">
      <p>
        <AppLink to="/fleet">{t('ops.fleet.back')}</AppLink>
      </p>
      <h1 id="register-title" tabIndex={-1}>{t('ops.register.title')}</h1>
      <form className="stack" onSubmit={submit}>
        <div className="fields">
          <label>
            {t('ops.register.name')}
            <input {...field('name')} required pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,62}" autoComplete="off" />
          </label>
          <ChoiceSelect
            label={t('ops.register.tenant')}
            name="tenant"
            value={form.tenant}
            onChange={(tenant) => setForm({ ...form, tenant })}
            choices={tenants.data?.tenants.map((tenant) => tenant.name) ?? []}
            empty={t('ops.register.pickTenant')}
            required
          />
          <label>
            {t('ops.register.macs')}
            <input {...field('macs')} required placeholder="52:54:00:12:34:56" autoComplete="off" spellCheck={false} />
          </label>
          <label>
            {t('ops.register.bmcUrl')}
            <input {...field('bmcUrl')} required placeholder="ipmi://10.0.0.5:623, redfish+https://10.0.0.6" autoComplete="off" spellCheck={false} />
          </label>
          <label>
            {t('ops.register.bmcUser')}
            <input {...field('bmcUser')} autoComplete="off" />
          </label>
          <label>
            {t('ops.register.bmcPassword')}
            <input {...field('bmcPassword')} type="password" autoComplete="new-password" />
          </label>
          <label>
            {t('ops.register.ssh')}
            <input {...field('sshEndpoint')} placeholder="203.0.113.7:22" autoComplete="off" />
          </label>
          <label>
            {t('ops.register.profiles')}
            <input {...field('profiles')} placeholder="linux" autoComplete="off" />
          </label>
        </div>
        <ErrorNote error={error ?? tenants.error} />
        <div>
          <button type="submit" disabled={busy}>
            {t('ops.register.submit')}
          </button>
        </div>
      </form>
      {added && (
        <div className="card stack" role="status">
          <p>{t('ops.register.added', { server: added.name, tenant: added.tenant })}</p>
          <ValidateBmc server={added.name} />
        </div>
      )}
    </section>
  );
}
