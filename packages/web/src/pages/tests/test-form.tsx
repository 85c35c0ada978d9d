/** Starts a hardware test of any kind with the options that kind takes (as `lifeboat tests run`). */
import { useState, type FormEvent } from 'react';
import { deviceTestKinds, hardwareTestKinds, type HardwareTestKind, type HardwareTestView, type NewHardwareTest } from '@lifeboat/core/api';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';

/** The start form; `onStarted` receives the queued test. */
export function TestForm({ server, onStarted }: { readonly server: string; readonly onStarted: (test: HardwareTestView) => void }) {
  const { client, t } = usePage();
  const [kind, setKind] = useState<HardwareTestKind>('smart');
  const [device, setDevice] = useState('');
  const [duration, setDuration] = useState('');
  const [size, setSize] = useState('');
  const [repair, setRepair] = useState(false);
  const [selfTest, setSelfTest] = useState<'short' | 'long'>('short');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const needsDevice = deviceTestKinds.has(kind);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const body: { -readonly [K in keyof NewHardwareTest]: NewHardwareTest[K] } = { kind };
    if (needsDevice) body.device = device.trim();
    if (kind === 'cpu' && duration.trim()) body.duration = duration.trim();
    if (kind === 'memory' && size.trim()) body.size = size.trim();
    if (kind === 'fsck') body.repair = repair;
    if (kind === 'smart') body.selfTest = selfTest;
    setBusy(true);
    setError(undefined);
    try {
      onStarted(await client.runTest(server, body));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="stack" onSubmit={submit} aria-labelledby="test-form-title">
      <h3 id="test-form-title">{t('tests.start.title')}</h3>
      <div className="fields">
        <label>
          {t('tests.kind')}
          <select value={kind} onChange={(event) => setKind(event.target.value as HardwareTestKind)} name="kind">
            {hardwareTestKinds.map((value) => (
              <option key={value} value={value}>
                {t(`tests.kind.${value}`)}
              </option>
            ))}
          </select>
        </label>
        {needsDevice && (
          <label>
            {t('tests.device')}
            <input name="device" value={device} onChange={(event) => setDevice(event.target.value)} required placeholder={kind === 'fsck' ? 'sda1' : 'sda'} autoComplete="off" spellCheck={false} />
          </label>
        )}
        {kind === 'cpu' && (
          <label>
            {t('tests.duration')}
            <input name="duration" value={duration} onChange={(event) => setDuration(event.target.value)} placeholder="60s" autoComplete="off" />
          </label>
        )}
        {kind === 'memory' && (
          <label>
            {t('tests.size')}
            <input name="size" value={size} onChange={(event) => setSize(event.target.value)} placeholder="256M" autoComplete="off" />
          </label>
        )}
        {kind === 'smart' && (
          <label>
            {t('tests.selfTest')}
            <select name="selfTest" value={selfTest} onChange={(event) => setSelfTest(event.target.value as 'short' | 'long')}>
              <option value="short">{t('tests.selfTest.short')}</option>
              <option value="long">{t('tests.selfTest.long')}</option>
            </select>
          </label>
        )}
        {kind === 'fsck' && (
          <label className="check">
            <input type="checkbox" name="repair" checked={repair} onChange={(event) => setRepair(event.target.checked)} />
            {t('tests.repair')}
          </label>
        )}
      </div>
      <p className="hint">{t(`tests.kind.${kind}.help`)}</p>
      <ErrorNote error={error} />
      <div>
        <button type="submit" disabled={busy}>
          {t('tests.start')}
        </button>
      </div>
    </form>
  );
}
