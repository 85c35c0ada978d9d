import { mkdir } from 'node:fs/promises';
import { run } from './run.js';

/**
 * Loop devices and mounts of one build, released together. The host has loop devices but no
 * partition nodes (`/dev/loopNpM`), no md and no device-mapper: each file system is attached on its
 * own with an offset and a size limit.
 */
export class LoopMounts {
  #devices: string[] = [];
  #mounts: string[] = [];

  /** Attaches `sizeBytes` of `image` from `offsetBytes` as a loop device; returns its path. */
  async attach(image: string, offsetBytes: number, sizeBytes: number): Promise<string> {
    const { stdout } = await run('losetup', [
      '--find',
      '--show',
      '--offset',
      String(offsetBytes),
      '--sizelimit',
      String(sizeBytes),
      image,
    ]);
    const device = stdout.trim();
    this.#devices.push(device);
    return device;
  }

  /** Mounts `device` on `dir` (created if missing). */
  async mount(device: string, dir: string, type: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await run('mount', ['-t', type, device, dir]);
    this.#mounts.push(dir);
  }

  /** Unmounts everything (last mounted first) and detaches every loop device; never throws. */
  async release(): Promise<void> {
    for (const dir of this.#mounts.reverse()) {
      await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => undefined));
    }
    this.#mounts = [];
    for (const device of this.#devices.reverse()) await run('losetup', ['-d', device]).catch(() => undefined);
    this.#devices = [];
  }
}
