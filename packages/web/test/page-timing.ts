/**
 * Timing a page against the API, for the browser tests on lab VMs: {@link ApiWatch} polls what the API
 * says of a server; {@link watchPage} records in the page when each timeline step, badge state and
 * stream status first showed. A test that compares them can tell a late lab from a late page.
 */
import type { ServerView, TaskList } from '@lifeboat/core/api';
import type { Page } from 'playwright-core';

const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

/** Longest time the page may take to show a change the control plane made (measured: see docs/web-console.md). */
export const pageLagMs = 20_000;

/** What the API says of a server, polled every 500 ms: each state with when it was first seen. */
export class ApiWatch {
  readonly states: { state: string; at: number }[] = [];
  task: TaskList['tasks'][number] | undefined;
  #running = true;
  readonly #done: Promise<void>;

  readonly #get: <T>(path: string) => Promise<T>;
  readonly #name: string;

  constructor(url: string, token: string, name: string) {
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
    this.#get = get;
    this.#name = name;
    this.#done = (async () => {
      while (this.#running) {
        try {
          const server = await get<ServerView>(`/v1/servers/${name}`);
          if (this.states.at(-1)?.state !== server.state) this.states.push({ state: server.state, at: Date.now() });
          this.task = (await get<TaskList>(`/v1/servers/${name}/tasks`)).tasks[0];
        } catch (error) {
          log(`API poll: ${String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
  }

  /** The newest task as the API shows it now. */
  async newestTask(): Promise<TaskList['tasks'][number] | undefined> {
    this.task = (await this.#get<TaskList>(`/v1/servers/${this.#name}/tasks`)).tasks[0];
    return this.task;
  }

  /** When the API was first seen in `state` after `since`. */
  reached(state: string, since = 0): number | undefined {
    return this.states.find((s) => s.state === state && s.at >= since)?.at;
  }

  /** The states seen, for messages: `active +0.0s, rescue_requested +1.2s, ...`. */
  history(): string {
    const start = this.states[0]?.at ?? 0;
    return this.states.map((s) => `${s.state} +${((s.at - start) / 1000).toFixed(1)}s`).join(', ');
  }

  /** The newest task's steps, for messages. */
  steps(): string {
    return (this.task?.steps ?? []).map((s) => `${s.name}:${s.state}`).join(' ');
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** Records in the page when each timeline step, each badge state and each stream status first showed. */
export async function watchPage(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    const seen = { steps: {}, states: [], live: [] };
    window.lifeboatSeen = seen;
    const record = () => {
      const now = Date.now();
      for (const item of document.querySelectorAll('ol.timeline li[data-step]')) {
        const name = item.getAttribute('data-step');
        if (!(name in seen.steps)) seen.steps[name] = now;
      }
      const state = document.querySelector('.page-title .badge')?.getAttribute('data-state');
      if (state && seen.states.at(-1)?.state !== state) seen.states.push({ state, at: now });
      const live = document.querySelector('.live')?.className ?? '';
      if (seen.live.at(-1)?.live !== live) seen.live.push({ live, at: now });
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state', 'class'] });
  })()`);
}

export interface PageSeen {
  readonly steps: Record<string, number>;
  readonly states: { state: string; at: number }[];
  readonly live: { live: string; at: number }[];
}
export const badgeState = (page: Page): Promise<string | null> => page.locator('.page-title .badge').getAttribute('data-state');
export const pageSeen = (page: Page): Promise<PageSeen> => page.evaluate('window.lifeboatSeen') as Promise<PageSeen>;
