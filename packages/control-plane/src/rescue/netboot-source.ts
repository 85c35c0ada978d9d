/**
 * The netboot server's view of the store: what a MAC should boot now. A server whose session waits
 * for the rescue system gets the rescue image and a freshly minted one-time boot token (only its hash
 * is stored; minting voids the previous one, so a token seen on an earlier boot is useless).
 */
import type { BootTarget, NetbootSource } from '../netboot/netboot-source.js';
import { hashToken, newToken } from '../credentials/tokens.js';
import type { Store } from '../store/store.js';
import { BootTimeline } from './boot-timeline.js';

/** The `NetbootSource` backed by the store. */
export class StoreNetbootSource implements NetbootSource {
  readonly #store: Store;
  readonly #timeline: BootTimeline;

  constructor(store: Store) {
    this.#store = store;
    this.#timeline = new BootTimeline(store);
  }

  async bootTargetFor(mac: string): Promise<BootTarget> {
    const server = await this.#store.servers.byMac(mac.toLowerCase());
    if (!server) return { kind: 'disk' };
    const session = await this.#store.sessions.openFor(server.id);
    if (!session) return { kind: 'disk' };
    // The session's explicit netboot field: `rescue` from the moment the enter job set the boot device
    // to network (the server may ask before the job recorded its reboot), `disk` again once an exit or a
    // rollback began. The state guard keeps a session that moved on from booting the rescue image.
    const waiting = session.state === 'rescue_requested' || session.state === 'preparing_rescue';
    const rescue = waiting && (await this.#store.sessions.netboot(session.id)) === 'rescue';
    if (!rescue) return { kind: 'disk' };
    const bootToken = newToken('boot');
    await this.#store.sessions.setBootToken(session.id, hashToken(bootToken));
    // Image ids are profile names: the image registry maps `linux` to LIFEBOAT_IMAGE.
    return { kind: 'rescue', serverId: server.id, sessionId: session.id, imageId: session.profile, bootToken };
  }

  async recordBootStep(mac: string | undefined, serverId: string | undefined, step: string, detail?: string): Promise<void> {
    const server =
      serverId !== undefined ? await this.#store.servers.byId(serverId) : mac !== undefined ? await this.#store.servers.byMac(mac.toLowerCase()) : undefined;
    if (!server) return;
    const session = await this.#store.sessions.openFor(server.id);
    if (session) await this.#timeline.record(session.id, step, 'completed', detail);
  }
}
