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
       * The boot credential of this boot attempt, bound to the address that asked first: the same
       * address asking again gets the same one; no other address gets it. It goes on the kernel
       * command line and is useless once redeemed.
       */
      readonly bootToken: string;
    };

/** Reads (and for rescue, prepares) boot targets by MAC. */
export interface NetbootSource {
  /**
   * The boot target for a MAC (`aa:bb:cc:dd:ee:ff`, lower case) asked for from `address`; unknown
   * MACs, and a rescue whose boot is bound to another address, boot from disk.
   */
  bootTargetFor(mac: string, address: string): Promise<BootTarget>;
  /**
   * Records a boot timeline step (`ipxe_script_served`, `kernel_fetched`, ...) of a server whose
   * rescue boot is bound to `address`; from any other address, nothing is recorded.
   */
  recordBootStep(serverId: string, step: string, address: string, detail?: string): Promise<void>;
}
