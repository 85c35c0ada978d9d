import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorStatus } from '@lifeboat/core/errors';
import { en } from './en.js';
import { fr } from './fr.js';
import { format, initialLanguage } from './language.js';

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

  it('fills placeholders and leaves unknown ones visible', () => {
    assert.equal(format('{shown} of {total} servers', { shown: 2, total: 5 }), '2 of 5 servers');
    assert.equal(format('Why: {reason}', {}), 'Why: {reason}');
  });
});
