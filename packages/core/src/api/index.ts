/** The HTTP API's contract (schemas and types) shared by the control plane and every client. */
export * from './schemas.js';
export * from './hardware-tests.js';
export * from './files.js';
export * from './incidents.js';
export * from './accounts.js';
export * from './console.js';
export * from './doctor.js';
export * from './desktop.js';
