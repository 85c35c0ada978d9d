import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { desktopEnd, desktopSocketUrl } from './desktop-socket.js';

describe('the desktop WebSocket', () => {
  it('is on the page\'s own host, ws: or wss: as the page', () => {
    assert.equal(desktopSocketUrl('http://127.0.0.1:8080', '/v1/servers/web-1/desktop/ws'), 'ws://127.0.0.1:8080/v1/servers/web-1/desktop/ws');
    assert.equal(desktopSocketUrl('https://lifeboat.example', '/v1/servers/db%201/desktop/ws'), 'wss://lifeboat.example/v1/servers/db%201/desktop/ws');
  });

  it('refuses a path that leaves the page\'s origin', () => {
    assert.throws(() => desktopSocketUrl('https://lifeboat.example', '//evil.example/v1/servers/web-1/desktop/ws'), /not on https:\/\/lifeboat.example/);
    assert.throws(() => desktopSocketUrl('https://lifeboat.example', 'wss://evil.example/x'), /not on/);
  });

  it('reads the error code the control plane closes with, after the upgrade', () => {
    assert.deepEqual(desktopEnd(1011, 'DESKTOP_UNREACHABLE'), { kind: 'error', code: 'DESKTOP_UNREACHABLE' });
    assert.deepEqual(desktopEnd(1011, ' DESKTOP_UNAVAILABLE\n'), { kind: 'error', code: 'DESKTOP_UNAVAILABLE' });
  });

  it('tells a normal close from one without a reason', () => {
    assert.deepEqual(desktopEnd(1000, ''), { kind: 'closed' });
    assert.deepEqual(desktopEnd(1005, ''), { kind: 'closed' });
    // A refused upgrade (409, 503, 404) or a dropped network: the page reads the view again.
    assert.deepEqual(desktopEnd(1006, ''), { kind: 'unexplained' });
    assert.deepEqual(desktopEnd(1011, 'something broke'), { kind: 'unexplained' });
  });
});
