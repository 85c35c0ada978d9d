/** The `lifeboat` command line. */
export { main } from './main.js';
export { CliError, exitCodes } from './errors.js';
export { buildProgram } from './program.js';
