/**
 * The feature pages' messages: every key a page uses exists in English and French, and both tables
 * have the same placeholders, so a page never shows a raw key or an unfilled `{name}`.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { desktopUnavailableReasons, doctorChecks, doctorSeverities, hardwareTestKinds, hardwareTestStatuses, rescueStates } from '@lifeboat/core';
import { pagesEn } from './pages-en.js';
import { pagesFr } from './pages-fr.js';

const pagesDir = fileURLToPath(new URL('../pages/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.tsx') || (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) ? [readFileSync(join(dir, entry.name), 'utf8')] : [],
  );
}
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

describe('feature page messages', () => {
  it('has every literal key the pages use, in both languages', () => {
    const used = new Set(sources(pagesDir).flatMap((text) => [...text.matchAll(/(?<![\w.])t\(\s*'([a-zA-Z.]+)'/g)].map((match) => match[1]!)));
    assert.ok(used.size > 100, `found ${used.size} keys`);
    for (const key of used) assert.ok(key in pagesEn, `missing English message ${key}`);
  });

  it('has the keys the pages build from the contract (kinds, statuses, states)', () => {
    const built = [
      ...hardwareTestKinds.flatMap((kind) => [`tests.kind.${kind}`, `tests.kind.${kind}.help`]),
      ...hardwareTestStatuses.map((status) => `tests.status.${status}`),
      ...rescueStates.map((state) => `ops.state.${state}`),
      ...['customer', 'technician', 'operator'].flatMap((role) => [`account.role.${role}`, `incidents.role.${role}`]),
      ...['open', 'acknowledged', 'resolved'].map((state) => `incidents.state.${state}`),
      ...['expiring', 'failed', 'agentSilent'].map((concern) => `ops.sessions.${concern}`),
      ...doctorChecks.map((check) => `doctor.check.${check}`),
      ...doctorSeverities.map((severity) => `doctor.severity.${severity}`),
      ...['running', 'done', 'failed'].map((state) => `doctor.state.${state}`),
      ...['available', 'applied'].map((state) => `doctor.fixState.${state}`),
      ...desktopUnavailableReasons.map((reason) => `desktop.reason.${reason}`),
      'ops.power.on',
      'ops.power.off',
    ];
    for (const key of built) assert.ok(key in pagesEn, `missing English message ${key}`);
  });

  it('has the same keys and placeholders in French and English', () => {
    assert.deepEqual(Object.keys(pagesFr).sort(), Object.keys(pagesEn).sort());
    for (const [key, text] of Object.entries(pagesEn)) assert.deepEqual(placeholders(pagesFr[key as keyof typeof pagesEn]), placeholders(text), key);
  });
});
