/**
 * The rescue system's agent played by a test through the agent API, as strict as the real one: it
 * reads its boot parameters from the control plane's iPXE script for the server's MAC (what the real
 * agent finds on its kernel command line), redeems the one-time boot token and says it is ready. Like
 * the real agent (packages/agent/src/control-plane-client.ts), it retries a call that did not reach
 * the control plane or got a 5xx, 408 or 429 answer (a control plane restarting), and fails on any
 * other refusal.
 */
import type { AgentConfig } from '@lifeboat/core';
import { waitFor } from './wait.js';

/** An agent of one rescue session. */
export interface PlayedAgent {
  readonly agentToken: string;
  readonly serverId: string;
  /** The session's configuration from the redeem answer (credentials, the desktop key of a desktop profile). */
  readonly config: AgentConfig;
  /** Calls `/v1/agent{path}` with the agent token; the parsed JSON answer, if any. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** `fetch` retried while the control plane is unreachable or answers 5xx, 408 or 429, until `deadline`. */
async function fetchRetried(url: string, init: RequestInit, deadline: number): Promise<Response> {
  let wait = 100;
  for (;;) {
    const response = await fetch(url, init).catch((error: unknown) => error as Error);
    if (response instanceof Response && response.status < 500 && response.status !== 408 && response.status !== 429) return response;
    if (Date.now() + wait > deadline) {
      if (response instanceof Response) return response;
      throw new Error(`${init.method ?? 'GET'} ${url}: the control plane is unreachable: ${response.message}`);
    }
    if (response instanceof Response) await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 2000);
  }
}

/** What else a played agent can be told. */
export interface PlayAgentOptions {
  /** The boot it plays ended (the server was powered off or cycled): stop waiting. */
  readonly signal?: AbortSignal;
  /** Called with the rescue script once iPXE got it (the effect of the BMC's reboot is reached). */
  readonly onScript?: (script: string) => void;
}

/** Waits for the rescue boot of `mac` (the server must be entering rescue), redeems it and posts ready. */
export async function playAgent(url: string, mac: string, timeoutMs = 60_000, options: PlayAgentOptions = {}): Promise<PlayedAgent> {
  const script = await waitFor('a rescue iPXE script', async () => {
    options.signal?.throwIfAborted();
    // iPXE retries its chain while the control plane does not answer.
    const text = await fetch(`${url}/v1/boot/${mac.replace(/:/g, '-')}.ipxe`).then((r) => r.text(), () => '');
    return text.includes('lifeboat.token=') ? text : undefined;
  }, timeoutMs);
  options.onScript?.(script);
  const serverId = /lifeboat\.server=(\S+)/.exec(script)?.[1];
  const bootToken = /lifeboat\.token=(\S+)/.exec(script)?.[1];
  if (!serverId || !bootToken) throw new Error(`no server id or boot token in the iPXE script:\n${script}`);
  const deadline = Date.now() + timeoutMs;
  const redeemed = await fetchRetried(`${url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId, bootToken }) }, deadline);
  if (redeemed.status !== 200) throw new Error(`redeem: ${redeemed.status} ${await redeemed.text()}`);
  const { agentToken, config } = (await redeemed.json()) as { agentToken: string; config: AgentConfig };
  const call = async (method: string, path: string, body?: unknown) => {
    const init = {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    };
    const response = await fetchRetried(`${url}/v1/agent${path}`, init, Math.max(deadline, Date.now() + timeoutMs));
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const ready = await call('POST', '/ready');
  if (ready.status !== 204) throw new Error(`ready: ${ready.status} ${JSON.stringify(ready.body)}`);
  return { agentToken, serverId, config, call };
}
