/** Where the console is built (packages/web/dist). */
export declare const webDist: string;
/** The hash of everything the console's build reads. */
export declare function webSourceHash(): string;
/** Builds packages/web/dist unless it is current; returns whether it built. */
export declare function ensureWebBuild(options?: { quiet?: boolean }): boolean;
