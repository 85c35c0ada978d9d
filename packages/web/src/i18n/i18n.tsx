/**
 * The console's languages: English and French, chosen from `navigator.languages` unless the user picked
 * one with the switch (kept in localStorage). `t(key, {vars})` fills `{name}` placeholders; dates and
 * durations go through `Intl` in the chosen language.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en, type MessageKey } from './en.js';
import { fr } from './fr.js';
import { format, initialLanguage, languages, pluralKey, type Language } from './language.js';

export { languages, type Language };

const tables: Record<Language, Record<MessageKey, string>> = { en, fr };

/** A message with plural forms: `KEY.one` and `KEY.other` exist. */
export type PluralKey = Extract<BaseOf<MessageKey, 'one'>, BaseOf<MessageKey, 'other'>>;
type BaseOf<K, Form extends string> = K extends `${infer Base}.${Form}` ? Base : never;
const storageKey = 'lifeboat.language';

/** What components get from {@link useI18n}. */
export interface I18n {
  readonly language: Language;
  setLanguage(language: Language): void;
  t(key: MessageKey, vars?: Readonly<Record<string, string | number>>): string;
  /** The message `key.one` / `key.other` (by `Intl.PluralRules`) that agrees with `count`. */
  plural(key: PluralKey, count: number, vars?: Readonly<Record<string, string | number>>): string;
  /** Whether a key exists (error codes the table may not know). */
  has(key: string): key is MessageKey;
  /** A date and time, in the chosen language. */
  dateTime(iso: string): string;
  /** A duration such as "1 h 5 min" (ms), in the chosen language. */
  duration(ms: number): string;
}

const I18nContext = createContext<I18n | null>(null);

function readStored(): string | null {
  try {
    return localStorage.getItem(storageKey);
  } catch {
    return null;
  }
}

/** Provides the language to the tree and keeps `<html lang>` in step. */
export function I18nProvider({ children }: { children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(() => initialLanguage(readStored(), navigator.languages));
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const setLanguage = useCallback((next: Language) => {
    try {
      localStorage.setItem(storageKey, next);
    } catch {
      // private mode: the choice lasts for this page only
    }
    setLanguageState(next);
  }, []);
  const value = useMemo<I18n>(() => {
    const table = tables[language];
    const dateFormat = new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'short' });
    const unit = (value: number, name: 'day' | 'hour' | 'minute' | 'second') =>
      new Intl.NumberFormat(language, { style: 'unit', unit: name, unitDisplay: 'short' }).format(value);
    return {
      language,
      setLanguage,
      t: (key, vars) => format(table[key], vars),
      plural: (key, count, vars) => format(table[pluralKey(language, key, count, (form) => form in table) as MessageKey], vars),
      has: (key): key is MessageKey => key in table,
      dateTime: (iso) => dateFormat.format(new Date(iso)),
      duration: (ms) => {
        const seconds = Math.max(0, Math.floor(ms / 1000));
        const d = Math.floor(seconds / 86_400);
        const h = Math.floor((seconds % 86_400) / 3600);
        const m = Math.floor((seconds % 3600) / 60);
        const s = seconds % 60;
        if (d > 0) return `${unit(d, 'day')} ${unit(h, 'hour')}`;
        if (h > 0) return `${unit(h, 'hour')} ${unit(m, 'minute')}`;
        if (m > 0) return `${unit(m, 'minute')} ${unit(s, 'second')}`;
        return unit(s, 'second');
      },
    };
  }, [language, setLanguage]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

/** The language, `t()` and the `Intl` formatters. */
export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error('useI18n outside I18nProvider');
  return value;
}

/** The language switch (a labelled select). */
export function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <label className="language-switch">
      <span className="visually-hidden">{t('language.label')}</span>
      <select value={language} onChange={(event) => setLanguage(event.target.value as Language)} aria-label={t('language.label')}>
        {languages.map((l) => (
          <option key={l} value={l} lang={l}>
            {t(`language.${l}`)}
          </option>
        ))}
      </select>
    </label>
  );
}
