/**
 * Users and tokens (operators): the users of every tenant, add one (a generated password is shown
 * once), remove one; API tokens for scripts of any role and tenant (shown once), revoked by id.
 */
import { useState, type FormEvent } from 'react';
import type { TokenAnswer } from '@lifeboat/core/api';
import { formatDate } from '../common/format.js';
import { ChoiceSelect, DataTable } from '../common/data-table.js';
import { ErrorNote } from '../common/notices.js';
import { usePage, type Role } from '../common/page-context.js';
import { SecretOnce } from '../common/secret-once.js';
import { useResource } from '../common/use-resource.js';

const roles: readonly Role[] = ['customer', 'technician', 'operator'];

/** `/users`. */
export function UsersPage() {
  const { t } = usePage();
  return (
    <section className="page stack" aria-labelledby="users-title">
      <h1 id="users-title" tabIndex={-1}>{t('ops.users.title')}</h1>
      <Users />
      <ServiceTokens />
    </section>
  );
}

function Users() {
  const { client, t, locale } = usePage();
  const users = useResource(['users'], () => client.listUsers());
  const tenants = useResource(['tenants'], () => client.listTenants());
  const [form, setForm] = useState({ name: '', role: 'customer' as Role, tenant: '', email: '' });
  const [created, setCreated] = useState<{ name: string; password: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const add = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const answer = await client.addUser({ name: form.name.trim(), role: form.role, ...(form.tenant ? { tenant: form.tenant } : {}), ...(form.email.trim() ? { email: form.email.trim() } : {}) });
      if (answer.password) setCreated({ name: answer.user.name, password: answer.password });
      setForm({ ...form, name: '', email: '' });
      users.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  const remove = async (name: string) => {
    setError(undefined);
    try {
      await client.removeUser(name);
      users.reload();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section className="card stack" aria-labelledby="user-list-title">
      <h2 id="user-list-title">{t('ops.users.list')}</h2>
      {created && <SecretOnce label={t('ops.users.password', { name: created.name })} secret={created.password} onDismiss={() => setCreated(null)} />}
      <form className="fields" onSubmit={add} aria-label={t('ops.users.add')}>
        <label>
          {t('ops.users.name')}
          <input name="userName" value={form.name} onChange={(event) => setForm({ ...form, name: event.target.value })} required autoComplete="off" />
        </label>
        <RoleAndTenant names={['role', 'userTenant']} form={form} onChange={(change) => setForm({ ...form, ...change })} tenants={tenants.data?.tenants ?? []} />
        <label>
          {t('ops.users.email')}
          <input name="userEmail" type="email" value={form.email} onChange={(event) => setForm({ ...form, email: event.target.value })} autoComplete="off" />
        </label>
        <div>
          <button type="submit">{t('ops.users.add')}</button>
        </div>
      </form>
      <ErrorNote error={error ?? users.error} />
      <DataTable
        caption={t('ops.users.list')}
        rows={users.data?.users ?? []}
        rowKey={(user) => user.name}
        columns={[
          { header: t('ops.users.name'), cell: (user) => user.name },
          { header: t('ops.users.role'), cell: (user) => t(`account.role.${user.role}`) },
          { header: t('ops.users.tenant'), cell: (user) => user.tenant ?? '—' },
          { header: t('ops.users.created'), wide: true, cell: (user) => formatDate(user.createdAt, locale) },
          {
            header: t('ops.fleet.actions'),
            cell: (user) => (
              <button type="button" onClick={() => void remove(user.name)} aria-label={t('ops.users.removeNamed', { name: user.name })}>
                {t('ops.users.remove')}
              </button>
            ),
          },
        ]}
      />
    </section>
  );
}

function ServiceTokens() {
  const { client, t } = usePage();
  const tenants = useResource(['tenants'], () => client.listTenants());
  const [form, setForm] = useState({ name: '', role: 'customer' as Role, tenant: '' });
  const [revokeId, setRevokeId] = useState('');
  const [created, setCreated] = useState<TokenAnswer | null>(null);
  const [revoked, setRevoked] = useState('');
  const [error, setError] = useState<unknown>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      setCreated(await client.createToken({ role: form.role, ...(form.tenant ? { tenant: form.tenant } : {}), ...(form.name.trim() ? { name: form.name.trim() } : {}) }));
    } catch (caught) {
      setError(caught);
    }
  };
  const revoke = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setRevoked('');
    try {
      await client.revokeToken(revokeId.trim());
      setRevoked(revokeId.trim());
      setRevokeId('');
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section className="card stack" aria-labelledby="service-tokens-title">
      <h2 id="service-tokens-title">{t('ops.tokens.title')}</h2>
      <p className="hint">{t('ops.tokens.help')}</p>
      {created && <SecretOnce label={t('ops.tokens.created', { id: created.id })} secret={created.token} onDismiss={() => setCreated(null)} />}
      <form className="fields" onSubmit={create} aria-label={t('ops.tokens.create')}>
        <label>
          {t('ops.tokens.name')}
          <input name="serviceTokenName" value={form.name} onChange={(event) => setForm({ ...form, name: event.target.value })} maxLength={100} autoComplete="off" />
        </label>
        <RoleAndTenant names={['serviceTokenRole', 'serviceTokenTenant']} form={form} onChange={(change) => setForm({ ...form, ...change })} tenants={tenants.data?.tenants ?? []} />
        <div>
          <button type="submit">{t('ops.tokens.create')}</button>
        </div>
      </form>
      <form className="fields" onSubmit={revoke} aria-label={t('ops.tokens.revoke')}>
        <label>
          {t('ops.tokens.id')}
          <input name="revokeId" value={revokeId} onChange={(event) => setRevokeId(event.target.value)} required autoComplete="off" spellCheck={false} />
        </label>
        <div>
          <button type="submit">{t('ops.tokens.revoke')}</button>
        </div>
      </form>
      <p role="status" className="meta">
        {revoked ? t('ops.tokens.revoked', { id: revoked }) : ''}
      </p>
      <ErrorNote error={error ?? tenants.error} />
    </section>
  );
}

/** The role and tenant fields of the user and token forms (a customer needs a tenant). */
function RoleAndTenant({
  names,
  form,
  onChange,
  tenants,
}: {
  readonly names: readonly [string, string];
  readonly form: { readonly role: Role; readonly tenant: string };
  readonly onChange: (change: { role?: Role; tenant?: string }) => void;
  readonly tenants: readonly { readonly name: string }[];
}) {
  const { t } = usePage();
  return (
    <>
      <ChoiceSelect label={t('ops.users.role')} name={names[0]} value={form.role} onChange={(role) => onChange({ role: role as Role })} choices={roles.map((role) => ({ value: role, label: t(`account.role.${role}`) }))} />
      <ChoiceSelect
        label={t('ops.users.tenant')}
        name={names[1]}
        value={form.tenant}
        onChange={(tenant) => onChange({ tenant })}
        choices={tenants.map((tenant) => tenant.name)}
        empty={t('ops.users.noTenant')}
        required={form.role === 'customer'}
      />
    </>
  );
}
