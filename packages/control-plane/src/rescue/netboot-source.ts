/**
 * The netboot server's view of the store: what a MAC should boot now. A server whose session waits
 * for the rescue system gets the rescue image and its boot attempt's credential, bound to the first
 * address that asked (see `store/boot-credentials.ts`); another address asking for the same MAC gets
 * the local disk, and the session an alert.
 */
import type { Logger } from 'pino';
import type { BootTarget, NetbootSource } from '../netboot/netboot-source.js';
import type { Store } from '../store/store.js';
import { BootTimeline } from './boot-timeline.js';

/** The `NetbootSource` backed by the store. */
export class StoreNetbootSource implements NetbootSource {
  readonly #store: Store;
  readonly #timeline: BootTimeline;
  readonly #log: Pick<Logger, 'warn'> | undefined;

  constructor(store: Store, log?: Pick<Logger, 'warn'>) {
    this.#store = store;
    this.#timeline = new BootTimeline(store);
    this.#log = log;
  }

  async bootTargetFor(mac: string, address: string): Promise<BootTarget> {
    const server = await this.#store.servers.byMac(mac.toLowerCase());
    if (!server) return { kind: 'disk' };
    const session = await this.#store.sessions.openFor(server.id);
    if (!session) return { kind: 'disk' };
    // The session's explicit netboot field: `rescue` from the moment the enter job set the boot device
    // to network (the server may ask before the job recorded its reboot), `disk` again once an exit or a
    // rollback began. The state guard keeps a session that moved on from booting the rescue image.
    const waiting = session.state === 'rescue_requested' || session.state === 'preparing_rescue';
    const netbootsRescue = (await this.#store.sessions.netboot(session.id)) === 'rescue';
    if (!netbootsRescue) return { kind: 'disk' };
    if (!waiting) {
      // In rescue already, and a boot asks from another address than the one that booted the rescue:
      // if that is the server, whoever became "the rescue system" was not. The customer must know.
      const boundTo = await this.#store.bootCredentials.boundAddress(session.id);
      if (session.state === 'rescue' && boundTo !== null && boundTo !== address) await this.#refused(server, session.id, address, boundTo);
      return { kind: 'disk' };
    }
    const credential = await this.#store.bootCredentials.issue(session.id, address);
    if (credential.kind === 'bound elsewhere') {
      await this.#refused(server, session.id, address, credential.boundTo);
      return { kind: 'disk' };
    }
    // Image ids are profile names: the image registry maps `linux` to LIFEBOAT_IMAGE.
    return { kind: 'rescue', serverId: server.id, sessionId: session.id, imageId: session.profile, bootToken: credential.token };
  }

  /** Records a script request from another address than the bound one: an alert, the audit log, a warning. */
  async #refused(server: { id: string; name: string; tenantId: string }, sessionId: string, address: string, boundTo: string): Promise<void> {
    const message = `the rescue boot script of ${server.name} was asked for from ${address}, but this boot is bound to ${boundTo}, which asked first: refused (local disk answered). If ${address} is the server, someone else on the provisioning network took its place: do not trust the host keys shown, exit the rescue and enter it again.`;
    this.#log?.warn({ server: server.name, session: sessionId, address, boundTo }, 'rescue boot script asked for from another address: refused');
    await this.#store.bootCredentials.alert(sessionId, server.id, 'boot_script_other_address', address, message);
    await this.#store.audit.record('anonymous', 'netboot.script_refused', { tenantId: server.tenantId, serverId: server.id, detail: { sessionId, address, boundTo } });
  }

  async recordBootStep(serverId: string, step: string, address: string, detail?: string): Promise<void> {
    const session = await this.#store.sessions.openFor(serverId);
    if (!session) return;
    // Only the address this boot is bound to writes its timeline: an anonymous request naming the
    // server (`?server=`) from anywhere else changes nothing.
    if ((await this.#store.bootCredentials.boundAddress(session.id)) !== address) return;
    await this.#timeline.record(session.id, step, 'completed', detail);
  }
}
