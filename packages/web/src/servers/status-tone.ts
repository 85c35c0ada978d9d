/** How a rescue state looks: orange while rescue is being prepared, red in rescue, failures marked. */
import type { RescueState } from '@lifeboat/core/rescue-state';

/** The badge's tone for a state. */
export function statusTone(state: RescueState): 'ok' | 'pending' | 'rescue' | 'failed' | 'exiting' {
  switch (state) {
    case 'active':
      return 'ok';
    case 'rescue_requested':
    case 'preparing_rescue':
      return 'pending';
    case 'rescue':
      return 'rescue';
    case 'rescue_failed':
    case 'exit_failed':
      return 'failed';
    case 'exiting_rescue':
      return 'exiting';
  }
}
