/**
 * `lifeboat`: the command line of Lifeboat. Talks HTTP to the control plane (LIFEBOAT_URL, default
 * http://127.0.0.1:8080) through core's typed client, with an API token (LIFEBOAT_TOKEN, or
 * --token-file, or the operator token the control plane wrote in `$LIFEBOAT_DATA/admin.token` on this
 * machine). `serve`, `lab` and `image` run the entry points of the control plane, the lab and the image
 * builder as child processes. Every command takes `--json`. The command tree is in `program.ts`.
 */
import { CommanderError } from 'commander';
import { LifeboatError } from '@lifeboat/core';
import { processOutput } from './context.js';
import { isEntryPointCommand, runEntryPoint } from './entry-points.js';
import { CliError, exitCodeOf, exitCodes, printedCode, printedMessage, usageError } from './errors.js';
import { buildProgram } from './program.js';

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  const json = argv.includes('--json');
  const out = processOutput(json);
  const program = buildProgram({ env, out });
  try {
    if (command === undefined) {
      program.outputHelp();
      return exitCodes.usage;
    }
    if (isEntryPointCommand(command)) return await runEntryPoint(command, rest, env);
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodes.ok;
  } catch (caught) {
    let error = caught;
    if (error instanceof CommanderError) {
      // --help, `help`, a version: done. A group without its subcommand printed its help: a usage error.
      if (error.exitCode === 0) return exitCodes.ok;
      if (error.code === 'commander.help') return exitCodes.usage;
      error = usageError(error.message.replace(/^error: /, '').replace(/\n/g, ' '));
    }
    if (!(error instanceof LifeboatError)) throw error;
    const code = printedCode(error);
    const message = printedMessage(error);
    if (json && !(error instanceof CliError && error.resultPrinted)) process.stdout.write(`${JSON.stringify({ code, message }, null, 2)}\n`);
    process.stderr.write(`lifeboat: ${code}: ${message}\n`);
    if (error instanceof CliError && error.code === 'USAGE') process.stderr.write('(lifeboat --help for the commands; lifeboat COMMAND --help for one)\n');
    return exitCodeOf(error);
  }
}
