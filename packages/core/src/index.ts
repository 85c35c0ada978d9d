/** Lifeboat's domain: types, the rescue-session state machine, roles and rules. No I/O. */
export * from './errors.js';
export * from './rescue-state.js';
export * from './access.js';
export * from './servers.js';
export * from './rescue-session.js';
export * from './tasks.js';
export * from './incidents.js';
export * from './cache.js';
