/** An API error as a sentence a customer can act on, in the chosen language. */
import type { I18n } from './i18n.js';

/** The code of an error from the typed client (`ApiError`, `LifeboatError`), else `INTERNAL`. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

/** The sentence for an error's code; an unknown code gets a generic sentence naming it. */
export function errorMessage(i18n: Pick<I18n, 't' | 'has'>, error: unknown): string {
  const code = errorCode(error);
  const key = `errors.${code}`;
  return i18n.has(key) ? i18n.t(key) : i18n.t('errors.unknown', { code });
}
