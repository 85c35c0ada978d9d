/**
 * How Lifeboat reaches a server's serial console: one small interface, one implementation per way in
 * (a TCP serial port, the BMC's IPMI Serial-over-LAN), side by side in this folder. The hub
 * (`console-hub.ts`) holds one connection per server and shares it between viewers; drivers know
 * nothing of viewers.
 */
import type { Duplex } from 'node:stream';
import { LifeboatError, parseConsoleUrl, type Server } from '@lifeboat/core';
import { IpmiSolDriver, type IpmiSolOptions } from './ipmi-sol.js';
import { TcpSerialDriver } from './tcp-serial.js';

/** The ways into a serial console Lifeboat speaks. */
export type ConsoleDriverName = 'tcp' | 'ipmi-sol';

/** A console driver bound to one server's console. */
export interface ConsoleDriver {
  /** Which driver this is. */
  readonly name: ConsoleDriverName;
  /** Where it connects, for messages and logs (`tcp://10.0.0.5:7001`, `ipmi://10.0.0.5:623`); never a secret. */
  readonly target: string;
  /**
   * Checks the console setting without talking to the console (cheap enough to call inside an API
   * request). Throws `CONSOLE_INVALID` (or `BMC_INVALID` for the BMC record SOL goes through).
   */
  validate(): Promise<void>;
  /**
   * Opens the console: bytes read are what the serial port printed, bytes written reach it as typed.
   * Resolves once the console is attached; throws `CONSOLE_UNAVAILABLE` when it cannot be.
   * Aborting `signal` (or destroying the stream) closes the connection.
   */
  connect(signal: AbortSignal): Promise<Duplex>;
}

/** What the drivers need to read from the secret store. */
export interface ConsoleSecrets {
  /** The server's BMC password, decrypted for one call. */
  bmcPassword(server: Server): Promise<string>;
}

/** Operator settings of the console drivers. */
export interface ConsoleDriverOptions {
  readonly ipmiSol?: IpmiSolOptions;
  /** Milliseconds a TCP console may take to accept a connection. Default 10 000. */
  readonly tcpConnectTimeoutMs?: number;
}

/**
 * The driver a server's console setting names: `tcp://HOST:PORT` → the TCP serial driver; none → the
 * BMC's Serial-over-LAN (IPMI only; a Redfish BMC has no standard serial console, so such a server
 * must be registered with a `console` URL). Construction does no I/O; `validate()` checks.
 */
export function consoleDriverFor(server: Server, secrets: ConsoleSecrets, options: ConsoleDriverOptions = {}): ConsoleDriver {
  if (server.console !== null) {
    return new TcpSerialDriver(server.console, options.tcpConnectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.tcpConnectTimeoutMs });
  }
  if (server.bmc.driver === 'ipmi') return new IpmiSolDriver(server, () => secrets.bmcPassword(server), options.ipmiSol);
  return new UnconfiguredConsole(server);
}

/** A factory with fixed operator settings, in the shape the hub takes. */
export type ConsoleDriverFactory = (server: Server) => ConsoleDriver;

/** `consoleDriverFor` bound to a secret store and the operator's settings. */
export function consoleDriverFactory(secrets: ConsoleSecrets, options: ConsoleDriverOptions = {}): ConsoleDriverFactory {
  return (server) => consoleDriverFor(server, secrets, options);
}

/** Checks a console setting given at registration (`tcp://HOST:PORT`) and returns it normalised. */
export function checkConsoleSetting(url: string): string {
  return parseConsoleUrl(url).url;
}

/** A server with no console Lifeboat can reach (a Redfish BMC and no `console` URL). */
class UnconfiguredConsole implements ConsoleDriver {
  readonly name = 'tcp' as const;
  readonly target = 'none';
  readonly #server: Server;

  constructor(server: Server) {
    this.#server = server;
  }

  async validate(): Promise<void> {
    throw new LifeboatError(
      'CONSOLE_INVALID',
      `server ${this.#server.name} has no serial console: its ${this.#server.bmc.driver} BMC offers no Serial-over-LAN Lifeboat speaks; register it with console: "tcp://HOST:PORT"`,
    );
  }

  async connect(): Promise<Duplex> {
    await this.validate();
    throw new LifeboatError('CONSOLE_UNAVAILABLE', 'no console');
  }
}
