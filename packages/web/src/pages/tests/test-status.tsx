/** A test's status as a badge and its progress as a labelled progress bar. */
import { finishedTestStatuses, type HardwareTestView } from '@lifeboat/core/api';
import { usePage } from '../common/page-context.js';

/** `passed` green, `failed`/`error` red, `running` orange, others neutral (the CSS classes of the shell's badges). */
const tone: Record<HardwareTestView['status'], string> = {
  queued: 'neutral',
  running: 'warning',
  passed: 'success',
  failed: 'danger',
  cancelled: 'neutral',
  error: 'danger',
};

/** The status badge. */
export function TestStatus({ status }: { readonly status: HardwareTestView['status'] }) {
  const { t } = usePage();
  return <span className={`badge badge-${tone[status]}`}>{t(`tests.status.${status}`)}</span>;
}

/** The progress bar of a test that has not finished (finished tests show their outcome instead). */
export function TestProgress({ test }: { readonly test: HardwareTestView }) {
  const { t } = usePage();
  if (finishedTestStatuses.has(test.status)) return null;
  const label = t('tests.progressOf', { kind: t(`tests.kind.${test.kind}`), device: test.device ?? '' });
  return (
    <progress className="test-progress" max={100} value={Math.round(test.progress)} aria-label={label}>
      {Math.round(test.progress)} %
    </progress>
  );
}
