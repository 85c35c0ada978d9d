/**
 * Where the netboot server learns what a server booting by MAC should get. Like Tinkerbell smee's
 * hardware readers: the iPXE endpoint does not care where the records come from (the store here).
 */

/** What a server should boot right now. */
export type BootTarget =
  | { readonly kind: 'disk' }
  | {
      readonly kind: 'rescue';
      readonly serverId: string;
      readonly sessionId: string;
      /** Rescue image to boot (a directory id known to the image registry). */
      readonly imageId: string;
      /**
       * A one-time boot token minted for this answer (only its hash is stored; a new answer mints a new
       * token and voids the previous one). It goes on the kernel command line and is useless once redeemed.
       */
      readonly bootToken: string;
    };

/** Reads (and for rescue, prepares) boot targets by MAC. */
export interface NetbootSource {
  /** The boot target for a MAC (`aa:bb:cc:dd:ee:ff`, lower case); unknown MACs boot from disk. */
  bootTargetFor(mac: string): Promise<BootTarget>;
  /** Records a boot timeline step for the server that owns this MAC (`ipxe_script_served`, `kernel_fetched`, `initrd_fetched`). */
  recordBootStep(mac: string | undefined, serverId: string | undefined, step: string, detail?: string): Promise<void>;
}
