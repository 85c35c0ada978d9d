import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DoctorFinding, DoctorFixView } from '@lifeboat/core/api';
import { canFix, changedFiles, evidenceSource, findingsBySeverity, fixActivity } from './doctor-state.js';

const finding = (id: string, severity: DoctorFinding['severity']): DoctorFinding => ({ id, check: 'fstab', severity, summary: id, evidence: [] });
const fix = (findingId: string, action: DoctorFixView['action'], state: DoctorFixView['state'], error: DoctorFixView['error'] = null): DoctorFixView => ({
  id: `${findingId}-${action}-${state}`, server: 'web-1', findingId, action, state, requestedAt: '2026-06-01T10:00:00Z', endedAt: state === 'pending' ? null : '2026-06-01T10:00:05Z', finding: null, error,
});

describe('doctor section state', () => {
  it('orders findings critical, warning, info, keeping the agent order within a severity', () => {
    const ordered = findingsBySeverity([finding('a', 'info'), finding('b', 'critical'), finding('c', 'warning'), finding('d', 'critical')]);
    assert.deepEqual(ordered.map((f) => f.id), ['b', 'd', 'c', 'a']);
  });

  it('reads a finding\'s activity from its newest fix or undo', () => {
    assert.deepEqual(fixActivity({ fixes: [] }, 'a'), { state: 'idle' });
    assert.deepEqual(fixActivity({ fixes: [fix('b', 'fix', 'pending'), fix('a', 'undo', 'pending'), fix('a', 'fix', 'done')] }, 'a'), { state: 'pending', action: 'undo' });
    assert.deepEqual(fixActivity({ fixes: [fix('a', 'fix', 'failed', { code: 'DOCTOR_FILE_CHANGED', message: 'fstab changed' }), fix('a', 'fix', 'done')] }, 'a'), {
      state: 'failed', action: 'fix', error: { code: 'DOCTOR_FILE_CHANGED', message: 'fstab changed' },
    });
    // A failed fix without an error still has a code the catalogue knows.
    assert.equal((fixActivity({ fixes: [fix('a', 'fix', 'failed')] }, 'a') as { error: { code: string } }).error.code, 'DOCTOR_FIX_FAILED');
    assert.deepEqual(fixActivity({ fixes: [fix('a', 'undo', 'done')] }, 'a'), { state: 'done', action: 'undo' });
  });

  it('pairs changed files with their copies, in order, when the rescue system named them', () => {
    assert.deepEqual(changedFiles({ kind: 'fstab-nofail', description: '', state: 'applied', changedFiles: ['/etc/fstab', '/etc/x'], backups: ['/etc/fstab.lifeboat-1'] }), [
      { file: '/etc/fstab', backup: '/etc/fstab.lifeboat-1' },
      { file: '/etc/x', backup: null },
    ]);
    assert.deepEqual(changedFiles({ kind: 'fstab-nofail', description: '', state: 'available' }), []);
  });

  it('tells a file line from a command output', () => {
    assert.deepEqual(evidenceSource({ file: '/etc/fstab', line: 3, text: 'UUID=x /data ext4 defaults 0 2' }), { kind: 'line', file: '/etc/fstab', line: 3 });
    assert.deepEqual(evidenceSource({ file: '/etc/ssh/sshd_config', text: '...' }), { kind: 'file', file: '/etc/ssh/sshd_config' });
    assert.deepEqual(evidenceSource({ command: 'sshd -t', text: 'line 12: Bad option' }), { kind: 'command', command: 'sshd -t' });
    assert.deepEqual(evidenceSource({ text: 'degraded' }), { kind: 'none' });
  });

  it('allows fixes only on the current rescue\'s report while the server is in rescue', () => {
    assert.equal(canFix({ current: true }, 'rescue'), true);
    assert.equal(canFix({ current: true }, 'exiting_rescue'), false);
    assert.equal(canFix({ current: false }, 'rescue'), false);
  });
});
