import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorStatus } from '@lifeboat/core/errors';
import { en } from './en.js';
import { fr } from './fr.js';
import { format, initialLanguage, pluralKey } from './language.js';

// Codes raised where no HTTP answer is made (CLI, image builder, lab, agent): a browser never sees them.
const localOnly = /^(USAGE|NOT_INSTALLED|RESCUE_FAILED|EXIT_FAILED|TEST_FAILED|TEST_ERROR|TEST_CANCELLED|BOOT_PARAMS_MISSING|CONTROL_PLANE_UNREACHABLE|PROGRAM_FAILED|IMAGE_.*|LAB_.*|VM_.*|BMC_START_FAILED)$/;

describe('message tables', () => {
  it('have a sentence for every error code the API can answer, in both languages', () => {
    const missing = Object.keys(errorStatus)
      .filter((code) => !localOnly.test(code))
      .filter((code) => !(`errors.${code}` in en) || !(`errors.${code}` in fr));
    assert.deepEqual(missing, []);
  });

  it('have the same keys, no empty message and the same placeholders in French', () => {
    assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort());
    for (const [key, english] of Object.entries(en)) {
      const french = fr[key as keyof typeof en];
      assert.ok(english.trim() && french.trim(), key);
      const vars = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(vars(french), vars(english), key);
    }
  });
});

describe('language choice', () => {
  it('keeps a stored choice, else takes the first browser language it has, else English', () => {
    assert.equal(initialLanguage('fr', ['en-US']), 'fr');
    assert.equal(initialLanguage(null, ['de-DE', 'fr-CA', 'en']), 'fr');
    assert.equal(initialLanguage('xx', ['EN-gb']), 'en');
    assert.equal(initialLanguage(null, ['de', 'es']), 'en');
  });

  it('picks plural forms by each language\'s rules (Intl.PluralRules): French 0 and 1 are singular', () => {
    const has = (key: string) => key in en;
    assert.equal(pluralKey('en', 'servers.count', 0, has), 'servers.count.other');
    assert.equal(pluralKey('en', 'servers.count', 1, has), 'servers.count.one');
    assert.equal(pluralKey('en', 'servers.count', 2, has), 'servers.count.other');
    assert.equal(pluralKey('fr', 'servers.count', 0, has), 'servers.count.one');
    assert.equal(pluralKey('fr', 'servers.count', 1, has), 'servers.count.one');
    assert.equal(pluralKey('fr', 'servers.count', 2, has), 'servers.count.other');
    // French "many" (1 000 000) has no form of its own here: the plural.
    assert.equal(pluralKey('fr', 'servers.count', 1_000_000, has), 'servers.count.other');
    assert.equal(format(fr[pluralKey('fr', 'servers.count', 1, has) as keyof typeof fr], { shown: 0, total: 1 }), '0 sur 1 serveur');
  });

  it('has a singular and a plural form for every counted message, in both languages', () => {
    const bases = Object.keys(en).filter((key) => key.endsWith('.one')).map((key) => key.slice(0, -'.one'.length));
    assert.ok(bases.length >= 3, bases.join());
    for (const base of bases) for (const form of ['one', 'other']) assert.ok(`${base}.${form}` in en && `${base}.${form}` in fr, `${base}.${form}`);
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    assert.equal(format('{shown} of {total} servers', { shown: 2, total: 5 }), '2 of 5 servers');
    assert.equal(format('Why: {reason}', {}), 'Why: {reason}');
  });
});
