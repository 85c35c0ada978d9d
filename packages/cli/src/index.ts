/** The `lifeboat` command line. */
export { main } from './main.js';
export { CliError, ControlPlane, exitCodes } from './client.js';
