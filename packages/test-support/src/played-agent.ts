/**
 * The rescue system's agent played by a test through the agent API, as strict as the real one: it
 * reads its boot parameters from the control plane's iPXE script for the server's MAC (what the real
 * agent finds on its kernel command line), redeems the one-time boot token and says it is ready.
 */
import { waitFor } from './wait.js';

/** An agent of one rescue session. */
export interface PlayedAgent {
  readonly agentToken: string;
  readonly serverId: string;
  /** Calls `/v1/agent{path}` with the agent token; the parsed JSON answer, if any. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** Waits for the rescue boot of `mac` (the server must be entering rescue), redeems it and posts ready. */
export async function playAgent(url: string, mac: string, timeoutMs = 60_000): Promise<PlayedAgent> {
  const script = await waitFor('a rescue iPXE script', async () => {
    const text = await (await fetch(`${url}/v1/boot/${mac.replace(/:/g, '-')}.ipxe`)).text();
    return text.includes('lifeboat.token=') ? text : undefined;
  }, timeoutMs);
  const serverId = /lifeboat\.server=(\S+)/.exec(script)?.[1];
  const bootToken = /lifeboat\.token=(\S+)/.exec(script)?.[1];
  if (!serverId || !bootToken) throw new Error(`no server id or boot token in the iPXE script:\n${script}`);
  const redeemed = await fetch(`${url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId, bootToken }) });
  if (redeemed.status !== 200) throw new Error(`redeem: ${redeemed.status} ${await redeemed.text()}`);
  const { agentToken } = (await redeemed.json()) as { agentToken: string };
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/v1/agent${path}`, {
      method,
      headers: { authorization: `Bearer ${agentToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };
  const ready = await call('POST', '/ready');
  if (ready.status !== 204) throw new Error(`ready: ${ready.status} ${JSON.stringify(ready.body)}`);
  return { agentToken, serverId, call };
}
