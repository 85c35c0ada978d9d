/**
 * The `windows` rescue image (issue 16): every tool of the profile is in the squashfs and starts. The
 * squashfs is unpacked and each tool runs in a chroot of it (no VM), in mount and network namespaces of
 * its own (`unshare -m -n`: /proc and /dev mounted for it vanish with it; no port is opened on the host).
 * The graphical ones run against the image's own X/VNC server, Xtigervnc, started in the same chroot.
 *
 * The image comes through the same cache as `lifeboat image build --profile windows`: seconds when that
 * ran on this machine, else the test builds it first (a cold build: ≈ 10 min, docs/rescue-image.md).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureRescueImage, windowsPackages, windowsToolSmokeChecks, windowsTools } from '../src/index.js';
import type { RescueImage } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-windows-tools-'));
const root = join(work, 'root');
let image: RescueImage;

/** Runs `script` with `sh` in a chroot of the unpacked image, /proc and /dev mounted in a namespace of its own. */
function inImage(script: string): { status: number | null; output: string } {
  const setup = `mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && mount -t tmpfs tmpfs "$1/tmp" && exec chroot "$1" /bin/sh -c "$2"`;
  const result = spawnSync('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', setup, 'sh', root, script], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' },
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

before(async () => {
  image = await ensureRescueImage({ profile: 'windows', onProgress: (line) => console.log(`# ${line}`) });
  execFileSync('unsquashfs', ['-q', '-n', '-d', root, join(image.dir, 'rootfs.squashfs')], { stdio: 'ignore' });
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('the windows rescue image', { timeout: 1_800_000 }, () => {
  it('says in its manifest that it is the windows profile and lists every tool with its package and version', () => {
    assert.equal(image.manifest.profile, 'windows');
    const installed = new Map(image.manifest.packages.map((p) => [p.name, p.version]));
    for (const name of windowsPackages) assert.ok(installed.has(name), `package ${name} is installed`);
    assert.deepEqual(
      image.manifest.tools?.map((t) => t.command),
      windowsTools.map((t) => t.command),
    );
    for (const tool of image.manifest.tools ?? []) assert.equal(tool.version, installed.get(tool.package), tool.command);
  });

  for (const [command, expected] of windowsToolSmokeChecks) {
    it(`starts ${command.replace(/^echo \w+ \| /, '').split(' ')[0]}`, () => {
      const { status, output } = inImage(command);
      assert.equal(status, 0, output);
      assert.match(output, expected);
    });
  }

  it('runs the desktop: Xtigervnc serves VNC, and openbox, xterm, pcmanfm and FileZilla start on its display', () => {
    // The X socket appearing is the signal that the server is up (polled, at most 60 s under emulation load).
    const script = [
      'Xtigervnc :7 -SecurityTypes None -geometry 1024x768 -depth 24 -rfbport 5907 >/tmp/x.log 2>&1 & x=$!',
      'i=0; while [ ! -S /tmp/.X11-unix/X7 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done',
      'export DISPLAY=:7',
      'echo "openbox: $(openbox --version | head -n 1)"',
      'echo "xterm: $(xterm -version)"',
      'echo "pcmanfm: $(pcmanfm --help | head -n 2 | tr "\\n" " ")"',
      'echo "filezilla: $(filezilla --version 2>&1 | head -n 3 | tr "\\n" " ")"',
      'cat /tmp/x.log',
      'kill $x; wait $x; exit 0',
    ].join('\n');
    const { status, output } = inImage(script);
    assert.equal(status, 0, output);
    assert.match(output, /openbox: Openbox \d/);
    assert.match(output, /xterm: XTerm\(\d+\)/);
    assert.match(output, /pcmanfm: Usage:\s+pcmanfm /);
    assert.match(output, /filezilla: .*FileZilla \d/);
    assert.match(output, /Listening for VNC connections on all interface\(s\), port 5907/);
  });

  it('renders a page in Firefox ESR (a headless screenshot, a PNG)', () => {
    const script = [
      'export HOME=/tmp',
      'echo "<h1>lifeboat</h1>" > /tmp/page.html',
      'firefox-esr --headless --screenshot /tmp/page.png file:///tmp/page.html >/tmp/firefox.log 2>&1 || { cat /tmp/firefox.log; exit 1; }',
      'echo "magic: $(head -c 4 /tmp/page.png | tail -c 3)"',
    ].join('\n');
    const { status, output } = inImage(script);
    assert.equal(status, 0, output);
    assert.match(output, /magic: PNG/);
  });
});
