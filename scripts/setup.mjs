// Makes a fresh Debian 12 machine ready to run Lifeboat, its lab and its tests:
// installs missing Debian packages (as root) and the npm dependencies.
// Only Node.js built-ins here: this runs before `npm install`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Debian packages listed in scripts/debian-packages.txt. */
export function wantedPackages() {
  return readFileSync(join(root, 'scripts/debian-packages.txt'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);
}

function missingPackages(packages) {
  const result = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...packages], {
    encoding: 'utf8',
  });
  const installed = new Set(
    result.stdout
      .split('\n')
      .filter((line) => line.endsWith(' installed'))
      .map((line) => line.split(' ')[0]),
  );
  return packages.filter((p) => !installed.has(p));
}

/** Installs what is missing; exits with the exact command to run when it cannot. */
export function ensureSetup({ quiet = false } = {}) {
  const missing = missingPackages(wantedPackages());
  if (missing.length > 0) {
    const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
    if (process.getuid?.() !== 0) {
      console.error(`Lifeboat needs these Debian packages: ${missing.join(' ')}\nRun as root: ${command}`);
      process.exit(1);
    }
    console.error(`setup: installing Debian packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
      env,
    });
  }
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules/.package-lock.json');
  if (!existsSync(marker) || readFileSync(marker, 'utf8').length === 0 || !sameLock(lock, marker)) {
    console.error('setup: installing npm dependencies (npm ci)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

// npm writes node_modules/.package-lock.json after an install; if every package of the
// lock file is there with the same version, the install is current.
function sameLock(lockFile, installedFile) {
  try {
    const want = JSON.parse(readFileSync(lockFile, 'utf8')).packages ?? {};
    const have = JSON.parse(readFileSync(installedFile, 'utf8')).packages ?? {};
    return Object.entries(want).every(
      ([path, meta]) => path === '' || meta.optional === true || meta.link === true || have[path]?.version === meta.version,
    );
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ensureSetup();
  console.error('setup: this machine has everything Lifeboat needs');
}
