/** The typed client of the public API (needs only `fetch`). */
export * from './lifeboat-client.js';
