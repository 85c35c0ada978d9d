/**
 * The viewers of each server's desktop on this replica, limited to `DesktopView.viewerLimit`. A viewer
 * takes its seat in the same turn of the event loop as the check, before anything is awaited (the
 * SSH forward takes a while to open), and gives it back once, whatever ends it: a burst of opens can
 * never pass the limit.
 */

/** A seat taken: `release()` gives it back (a second call does nothing). */
export interface DesktopSeat {
  release(): void;
}

/** Seats per server, in memory (each replica counts its own WebSockets). */
export class DesktopSeats {
  readonly #limit: number;
  readonly #taken = new Map<string, number>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** How many seats of this server's desktop are taken (viewers connected, and those still opening). */
  count(serverId: string): number {
    return this.#taken.get(serverId) ?? 0;
  }

  /** Takes a seat, or undefined when every seat is taken. */
  take(serverId: string): DesktopSeat | undefined {
    const taken = this.count(serverId);
    if (taken >= this.#limit) return undefined;
    this.#taken.set(serverId, taken + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = this.count(serverId) - 1;
        if (left > 0) this.#taken.set(serverId, left);
        else this.#taken.delete(serverId);
      },
    };
  }
}
