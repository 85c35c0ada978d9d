/**
 * What the operator pages' lists share: a table with a caption for screen readers and columns that
 * hide at a phone's width, a labelled select of choices (the filters and the forms' tenant and role),
 * and the line under a filter form (error, loading, "N of M").
 */
import type { ReactNode } from 'react';
import { ErrorNote } from './notices.js';
import { usePage } from './page-context.js';

/** A column of a {@link DataTable}. */
export interface Column<Row> {
  readonly header: string;
  readonly cell: (row: Row) => ReactNode;
  /** Hidden at a phone's width (the `wide` class). */
  readonly wide?: boolean;
}

/** A table of `rows`, one `<tr>` each (keyed by `rowKey`), under a visually hidden caption. */
export function DataTable<Row>({ caption, columns, rows, rowKey }: { readonly caption: string; readonly columns: readonly (Column<Row> | false)[]; readonly rows: readonly Row[]; readonly rowKey: (row: Row) => string }) {
  const shown = columns.filter((column): column is Column<Row> => column !== false);
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {shown.map((column) => (
              <th key={column.header} scope="col" {...(column.wide ? { className: 'wide' } : {})}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {shown.map((column) => (
                <td key={column.header} {...(column.wide ? { className: 'wide' } : {})}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A choice of a {@link ChoiceSelect}: a value shown as itself, or with a label. */
export type Choice = string | number | { readonly value: string; readonly label: string };

/** A labelled `<select>`; `empty` is a first choice of value `''` ("all tenants", "no tenant"). */
export function ChoiceSelect({
  label,
  name,
  value,
  onChange,
  choices,
  empty,
  required = false,
}: {
  readonly label: string;
  readonly name: string;
  readonly value: string | number;
  readonly onChange: (value: string) => void;
  readonly choices: readonly Choice[];
  readonly empty?: string;
  readonly required?: boolean;
}) {
  return (
    <label>
      {label}
      <select name={name} value={value} onChange={(event) => onChange(event.target.value)} required={required}>
        {empty !== undefined && <option value="">{empty}</option>}
        {choices.map((choice) => {
          const { value: optionValue, label: optionLabel } = typeof choice === 'object' ? choice : { value: String(choice), label: String(choice) };
          return (
            <option key={optionValue} value={optionValue}>
              {optionLabel}
            </option>
          );
        })}
      </select>
    </label>
  );
}

/** Under a list's filters: its error, "loading" until the first answer, and the count ("2 of 5 servers": `key.one` / `key.other` by the total). */
export function ListState({ error, loading, count }: { readonly error: unknown; readonly loading: boolean; readonly count?: { readonly key: string; readonly shown: number; readonly total: number } }) {
  const { t, plural } = usePage();
  return (
    <>
      <ErrorNote error={error} />
      {loading && <p aria-busy="true">{t('ops.loading')}</p>}
      {count && (
        <p className="meta" aria-live="polite">
          {plural(count.key, count.total, { shown: count.shown, total: count.total })}
        </p>
      )}
    </>
  );
}
