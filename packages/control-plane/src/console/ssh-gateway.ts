/**
 * The SSH console gateway (`ssh -p PORT SERVER@HOST`): public-key authentication only, against the
 * keys registered for the server's tenant and the staff keys; then the session is the server's
 * serial console, read-only, or with the writer's seat when the command is `--write`
 * (`ssh -p PORT SERVER@HOST -- --write`). No password, no port forwarding, no agent forwarding, no
 * other command, no subsystem.
 *
 * A foreign server, an unknown server and an unregistered key get the same refusal by the same path:
 * the server and the key are both looked up whatever the answer, and the client is told only
 * "publickey" again.
 */
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import type { AuthContext, Connection, ServerChannel } from 'ssh2';
import type { Server } from '@lifeboat/core';
import type { Store } from '../store/store.js';
import type { SshKeyRecord } from '../store/ssh-keys.js';
import { fingerprintOf } from '../keys/public-key.js';
import { ConsoleSession, type ConsoleAttacher, type ConsoleSessionLimits, type ViewerIdentity } from './console-session.js';
import type { ConsoleHostKey } from './host-key.js';

/** What the gateway needs. */
export interface SshGatewayOptions {
  readonly store: Store;
  readonly hubs: ConsoleAttacher;
  readonly hostKey: ConsoleHostKey;
  readonly limits: ConsoleSessionLimits;
  readonly log: Logger;
  /** Refused authentication attempts before the connection is closed. */
  readonly maxAuthAttempts?: number;
}

/** Who logged in on a connection. */
interface Login {
  readonly server: Server;
  readonly key: SshKeyRecord;
  readonly tenantName: string | null;
}

/** The command that asks for the writer's seat. */
export const writeCommand = '--write';

/** The gateway's listener. */
export class SshConsoleGateway {
  readonly #options: SshGatewayOptions;
  readonly #server: ssh2.Server;
  readonly #connections = new Set<Connection>();
  readonly #sessions = new Set<ConsoleSession>();
  #address: { host: string; port: number } | undefined;

  constructor(options: SshGatewayOptions) {
    this.#options = options;
    this.#server = new ssh2.Server({ hostKeys: [options.hostKey.privateKey], ident: 'Lifeboat_console' }, (client) => this.#connection(client));
    this.#server.on('error', (error: Error) => options.log.warn({ err: error }, 'console gateway error'));
  }

  /** Listens; resolves to the address (port 0 picks one). */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as AddressInfo;
    this.#address = { host, port: address.port };
    return this.#address;
  }

  /** Where it listens, once listening. */
  get address(): { host: string; port: number } | undefined {
    return this.#address;
  }

  /** Stops listening and ends every console session (audited as detached). */
  async close(): Promise<void> {
    await Promise.all([...this.#sessions].map((s) => s.close('the control plane is stopping', 0)));
    for (const client of this.#connections) client.end();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #connection(client: Connection): void {
    const { log } = this.#options;
    this.#connections.add(client);
    let login: Login | undefined;
    let refusals = 0;
    client.on('error', (error: Error) => log.debug({ err: error }, 'console gateway connection error'));
    client.on('close', () => this.#connections.delete(client));
    client.on('authentication', (ctx) => {
      void this.#authenticate(ctx).then(
        (accepted) => {
          if (accepted === 'probe-ok') return ctx.accept();
          if (accepted !== undefined) {
            login = accepted;
            return ctx.accept();
          }
          refusals++;
          ctx.reject(['publickey']);
          if (refusals >= (this.#options.maxAuthAttempts ?? 6)) client.end();
        },
        (error: unknown) => {
          log.error({ err: error }, 'console gateway authentication failed');
          ctx.reject(['publickey']);
        },
      );
    });
    client.on('ready', () => {
      if (login === undefined) return client.end();
      const who = login;
      client.on('session', (accept) => {
        const session = accept();
        let started = false;
        session.on('pty', (accept) => accept?.());
        session.on('window-change', (accept) => accept?.());
        session.on('env', (accept) => accept?.());
        session.on('auth-agent', (_accept, reject) => reject?.());
        session.on('x11', (_accept, reject) => reject?.());
        session.on('subsystem', (_accept, reject) => reject?.());
        session.on('signal', (accept) => accept?.());
        session.on('shell', (accept) => {
          if (started) return;
          started = true;
          void this.#start(accept(), who, false);
        });
        session.on('exec', (accept, _reject, info) => {
          if (started) return;
          started = true;
          const channel = accept();
          const command = info.command.trim();
          if (command === writeCommand || command === '') return void this.#start(channel, who, command === writeCommand);
          channel.stderr.write(`[lifeboat] this is the serial console of ${who.server.name}: the only command is ${writeCommand} (the writer's seat)\r\n`);
          channel.exit(2);
          channel.end();
        });
      });
      client.on('tcpip', (_accept, reject) => reject());
      client.on('openssh.streamlocal', (_accept, reject) => reject());
      client.on('request', (_accept, reject) => reject?.());
    });
  }

  /**
   * `undefined` refuses, `'probe-ok'` tells a client asking whether a key would do that it would.
   * The server lookup and the key lookup both run whatever the answer.
   */
  async #authenticate(ctx: AuthContext): Promise<Login | 'probe-ok' | undefined> {
    if (ctx.method !== 'publickey') return undefined;
    const { store } = this.#options;
    const server = await store.servers.byName(ctx.username);
    const fingerprint = fingerprintOf(ctx.key.data);
    const keys = await store.sshKeys.forServer(fingerprint, server?.tenantId ?? null);
    // Staff keys come back for any name: a server must exist for any key to open it.
    const key = server === undefined ? undefined : keys.find((k) => sameBlob(k, ctx.key.data));
    if (server === undefined || key === undefined) return undefined;
    if (ctx.signature === undefined || ctx.blob === undefined) return 'probe-ok';
    const parsed = ssh2.utils.parseKey(key.publicKey);
    if (parsed instanceof Error) return undefined;
    if (parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) return undefined;
    const tenantName = key.tenantId === null ? null : ((await store.tenants.byId(key.tenantId))?.name ?? null);
    return { server, key, tenantName };
  }

  async #start(channel: ServerChannel, login: Login, write: boolean): Promise<void> {
    const { key, server, tenantName } = login;
    const identity: ViewerIdentity = {
      who: `key ${key.name} ${tenantName === null ? '(staff)' : `of ${tenantName}`} over SSH`,
      actor: `ssh-key:${key.id}`,
      detail: { via: 'ssh', key: key.name, fingerprint: key.fingerprint, staff: key.tenantId === null },
    };
    let exited = false;
    let channelClosed = false;
    channel.once('close', () => {
      channelClosed = true;
    });
    try {
      const session = await ConsoleSession.open({
        store: this.#options.store,
        hubs: this.#options.hubs,
        server,
        write,
        identity,
        limits: this.#options.limits,
        ...(write ? {} : { banner: ` (ssh ... ${server.name}@... -- ${writeCommand} for the writer's seat)` }),
        transport: {
          send: (data) => channel.write(data),
          onDrain: (listener) => void channel.once('drain', listener),
          notice: (text) => void channel.stderr.write(text),
          end: (code) => {
            if (exited) return;
            exited = true;
            channel.exit(code);
            channel.end();
          },
        },
      });
      if (session === undefined) return;
      if (channelClosed) return session.gone();
      this.#sessions.add(session);
      channel.on('data', (data: Buffer) => session.input(data));
      channel.once('close', () => {
        this.#sessions.delete(session);
        session.gone();
      });
    } catch (error) {
      this.#options.log.error({ err: error, server: server.name }, 'console attach failed');
      channel.stderr.write(`[lifeboat] the console of ${server.name} is not available: ${(error as Error).message}\r\n`);
      channel.exit(1);
      channel.end();
    }
  }
}

function sameBlob(key: SshKeyRecord, blob: Buffer): boolean {
  const stored = Buffer.from(key.publicKey.split(' ')[1] ?? '', 'base64');
  return stored.length === blob.length && timingSafeEqual(stored, blob);
}
