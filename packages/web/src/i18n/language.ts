/** Choosing the language and filling messages (pure, tested beside). */

/** A language of the console. */
export type Language = 'en' | 'fr';
/** The console's languages, in the switch's order. */
export const languages: readonly Language[] = ['en', 'fr'];

/** The language to start with: the stored choice, else the first of the browser's we have. */
export function initialLanguage(stored: string | null, preferred: readonly string[]): Language {
  if (stored === 'en' || stored === 'fr') return stored;
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0];
    if (base === 'en' || base === 'fr') return base;
  }
  return 'en';
}

/**
 * The plural form of message `key` for `count` in `language`: `key.one`, `key.other`, ... by the
 * language's CLDR rules (`Intl.PluralRules`: French puts 0 and 1 in `one`, English only 1); a
 * category the table lacks (French `many` for millions) falls back to `key.other`.
 */
export function pluralKey(language: Language, key: string, count: number, has: (key: string) => boolean): string {
  const form = `${key}.${new Intl.PluralRules(language).select(count)}`;
  return has(form) ? form : `${key}.other`;
}

/** Fills `{name}` placeholders. */
export function format(template: string, vars: Readonly<Record<string, string | number>> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}
