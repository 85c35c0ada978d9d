import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkProgress } from '@lifeboat/core/api';
import { waitFor } from '@lifeboat/test-support';
import { nodePlatform } from '../platform-node.js';
import { Stop } from '../platform.js';
import { ProgressReporter, reportEveryMs } from './progress.js';

describe('progress reports', () => {
  it('sends a change at once, never goes down, and carries the output', async () => {
    const sent: WorkProgress[] = [];
    const reporter = new ProgressReporter(nodePlatform, async (r) => (sent.push(r), { cancel: false }), () => undefined);
    reporter.append('line 1\n');
    reporter.update(10, 'pass 1');
    await waitFor('first report', () => sent.length === 1, 2000);
    reporter.update(5, 'pass 1');
    reporter.update(20.04);
    await waitFor('second report', () => sent.length === 2, 2000);
    await reporter.close();
    assert.deepEqual(sent, [{ progress: 10, summary: 'pass 1', output: 'line 1\n' }, { progress: 20, summary: 'pass 1' }]);
    assert.equal(reporter.percent, 20);
  });

  it('reports at least every 5 s without a change, and stops on cancel', async () => {
    const sent: number[] = [];
    let cancelled = false;
    const reporter = new ProgressReporter(nodePlatform, async () => (sent.push(Date.now()), { cancel: sent.length >= 2 }), () => (cancelled = true));
    const stop = new Stop();
    const started = Date.now();
    const heartbeat = reporter.heartbeat(stop);
    await waitFor('a report without a change', () => sent.length >= 1, reportEveryMs + 2000);
    assert.ok((sent[0] ?? 0) - started >= reportEveryMs - 100);
    reporter.update(1);
    await waitFor('the cancel answer', () => cancelled, 2000);
    stop.stop();
    await heartbeat;
    await reporter.close();
  });

  it('keeps the output of a failed report for the next one', async () => {
    let fail = true;
    const sent: WorkProgress[] = [];
    const reporter = new ProgressReporter(nodePlatform, async (r) => {
      if (fail) throw new Error('503');
      sent.push(r);
      return { cancel: false };
    }, () => undefined);
    reporter.append('kept');
    reporter.update(1);
    await waitFor('the failure', () => reporter.failures.length === 1, 2000);
    fail = false;
    reporter.update(2);
    await waitFor('the retry', () => sent.length === 1, 2000);
    assert.equal(sent[0]?.output, 'kept');
    await reporter.close();
  });
});
