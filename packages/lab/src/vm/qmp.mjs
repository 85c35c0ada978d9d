#!/usr/bin/env node
// A QMP client small enough to start in a few milliseconds: the lab's Redfish service imports it, and
// ipmi_sim's chassis_control program runs it as `node qmp.mjs SOCKET COMMAND [ARGUMENTS_JSON]`.
// It waits for QEMU's answer before closing: QEMU drops queued commands of a client that disconnects.
import { createConnection } from 'node:net';
import { pathToFileURL } from 'node:url';

/**
 * Sends one QMP command to the QEMU monitor at `socketPath` and resolves with its `return` value.
 * @param {string} socketPath
 * @param {string} command
 * @param {Record<string, unknown>} [args]
 * @param {number} [timeoutMs]
 * @returns {Promise<unknown>}
 */
export function qmp(socketPath, command, args, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = '';
    let step = 'greeting';
    const timer = setTimeout(() => finish(new Error(`QMP ${command}: no answer within ${timeoutMs} ms`)), timeoutMs);
    /** @param {Error | null} error @param {unknown} [value] */
    function finish(error, value) {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    }
    socket.setEncoding('utf8');
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      // `quit` closes the monitor, sometimes before its answer reaches us: that is its success.
      if (step === 'command' && command === 'quit') finish(null, {});
      else if (step !== 'done') finish(new Error(`QMP ${command}: monitor closed the connection`));
    });
    socket.on('data', (chunk) => {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line) continue;
        /** @type {{QMP?: unknown, return?: unknown, error?: {class: string, desc: string}, event?: string}} */
        const message = JSON.parse(line);
        if (message.event) continue;
        if (step === 'greeting' && message.QMP) {
          step = 'capabilities';
          socket.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
        } else if (step === 'capabilities') {
          if (message.error) return finish(new Error(`QMP qmp_capabilities: ${message.error.desc}`));
          step = 'command';
          socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
        } else if (step === 'command') {
          step = 'done';
          if (message.error) return finish(new Error(`QMP ${command}: ${message.error.desc}`));
          return finish(null, message.return);
        }
      }
    });
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [socketPath, command, argsJson] = process.argv.slice(2);
  if (!socketPath || !command) {
    console.error('usage: qmp.mjs SOCKET COMMAND [ARGUMENTS_JSON]');
    process.exit(2);
  }
  qmp(socketPath, command, argsJson ? JSON.parse(argsJson) : undefined).then(
    (value) => console.log(JSON.stringify(value ?? {})),
    (error) => {
      console.log(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
