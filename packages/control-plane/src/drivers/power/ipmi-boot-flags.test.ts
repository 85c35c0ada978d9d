import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootDeviceOfBootFlags } from './ipmi.js';

// ipmitool 1.8.19's answers to `chassis bootparam get 5`.
const flags = (valid: boolean, selector: string) => `Boot parameter version: 1
Boot parameter 5 is valid/unlocked
Boot parameter data: ${valid ? '80' : '00'}04000000
 Boot Flags :
   - Boot Flag ${valid ? 'Valid' : 'Invalid'}
   - Options apply to only next boot
   - BIOS PC Compatible (legacy) boot
   - Boot Device Selector : ${selector}
   - BIOS verbosity : System Default
`;

describe('ipmi boot flags', () => {
  it('reads the next boot device, and none without the valid bit', () => {
    assert.equal(bootDeviceOfBootFlags(flags(true, 'Force PXE')), 'network');
    assert.equal(bootDeviceOfBootFlags(flags(true, 'Force Boot from default Hard-Drive')), 'disk');
    assert.equal(bootDeviceOfBootFlags(flags(true, 'No override')), 'none');
    assert.equal(bootDeviceOfBootFlags(flags(true, 'Force Boot from CD/DVD')), 'none');
    // The BMC ignores the selector at the next boot when the bit is clear (cleared after a boot or a 60 s timeout).
    assert.equal(bootDeviceOfBootFlags(flags(false, 'Force PXE')), 'none');
  });
});
