/** Lifeboat's domain: types, the rescue-session state machine, roles and rules, the API contract. No I/O. */
export * from './errors.js';
export * from './rescue-state.js';
export * from './access.js';
export * from './servers.js';
export * from './rescue-session.js';
export * from './tasks.js';
export * from './incidents.js';
export * from './api/index.js';
export * from './boot/kernel-command-line.js';
export * from './client/index.js';
export * from './netboot/dnsmasq-config.js';
export * from './cache.js';
export * from './profiles.js';
export * from './agent-work.js';
