/**
 * A serial port exported on TCP (what a serial concentrator or the lab's fan-out serves), for tests
 * of the console's TCP driver, hub and recorder. Used by tests only.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';

/** A listening test serial port. */
export interface TestSerialPort {
  /** Its TCP port on 127.0.0.1 (`tcp://127.0.0.1:PORT`). */
  readonly port: number;
  /** The connections now open to it. */
  readonly lines: Socket[];
  /** Prints `text` to every connected line. */
  print(text: string): void;
  /** Closes every line and stops listening. */
  close(): Promise<void>;
}

/** Starts a serial port on TCP that prints what the test gives it to every connected line. */
export async function serialPort(): Promise<TestSerialPort> {
  const lines: Socket[] = [];
  const server: NetServer = createServer((socket) => {
    lines.push(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => lines.splice(lines.indexOf(socket), 1));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    lines,
    print: (text) => {
      for (const line of lines) line.write(text);
    },
    close: async () => {
      for (const line of [...lines]) line.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
