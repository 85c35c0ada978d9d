/**
 * The Debian archive to build from: the one this machine's apt is configured with (one-line and
 * deb822 `.sources` files), so a mirror or snapshot set up for apt is used by the build too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from './package-set.js';

/** One `deb URI SUITE COMPONENTS` line for mmdebstrap. */
export type AptSource = string;

const fallback: readonly AptSource[] = [
  `deb http://deb.debian.org/debian ${suite} main`,
  `deb http://deb.debian.org/debian ${suite}-updates main`,
  `deb http://deb.debian.org/debian-security ${suite}-security main`,
];

/** Debian `deb` sources for `suite` (and its -updates/-security) found under `etcApt`; defaults to deb.debian.org. */
export function debianSources(etcApt = '/etc/apt'): readonly AptSource[] {
  const texts: Array<{ name: string; text: string }> = [];
  const read = (path: string): void => {
    try {
      texts.push({ name: path, text: readFileSync(path, 'utf8') });
    } catch {
      // a missing file is no source
    }
  };
  read(join(etcApt, 'sources.list'));
  try {
    for (const name of readdirSync(join(etcApt, 'sources.list.d')).sort()) read(join(etcApt, 'sources.list.d', name));
  } catch {
    // no sources.list.d
  }
  const found: AptSource[] = [];
  const suites = new Set([suite, `${suite}-updates`, `${suite}-security`]);
  const add = (uri: string, suiteName: string, components: string[]): void => {
    if (!suites.has(suiteName) || !components.includes('main')) return;
    const line = `deb ${uri} ${suiteName} main`;
    if (!found.includes(line)) found.push(line);
  };
  for (const { name, text } of texts) {
    if (name.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (key: string): string[] =>
          (new RegExp(`^${key}:\\s*(.*)$`, 'mi').exec(stanza)?.[1] ?? '').split(/\s+/).filter(Boolean);
        if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(stanza)) continue;
        for (const uri of field('URIs')) for (const s of field('Suites')) add(uri, s, field('Components'));
      }
    } else if (name.endsWith('.list')) {
      for (const raw of text.split('\n')) {
        const words = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
        if (words[0] !== 'deb' || words.length < 4) continue;
        add(words[1] as string, words[2] as string, words.slice(3));
      }
    }
  }
  return found.some((l) => l.split(' ')[2] === suite) ? found : fallback;
}
