import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attachedMode, consoleSocketUrl, seatHolder } from './console-socket.js';

describe('console socket', () => {
  it('builds the WebSocket URL of the page origin, the writer seat asked with write=1', () => {
    assert.equal(consoleSocketUrl('http://127.0.0.1:8080', 'web 1', false), 'ws://127.0.0.1:8080/v1/servers/web%201/console/ws');
    assert.equal(consoleSocketUrl('https://lifeboat.example', 'web-1', true), 'wss://lifeboat.example/v1/servers/web-1/console/ws?write=1');
  });

  it('reads the seat from the attach notice', () => {
    assert.equal(attachedMode('[lifeboat] console of web-1, writer; ~. at the start of a line detaches\r\n'), 'write');
    assert.equal(attachedMode('[lifeboat] console of web-1, read-only; ~. at the start of a line detaches\r\n'), 'read');
    assert.equal(attachedMode('\r\n[lifeboat] console connection back\r\n'), null);
  });

  it('names who holds the seat from a refusal', () => {
    const notice = 'the console of web-1 is being written by alice (customer) (since 2026-11-30T06:00:00.000Z); attach read-only, or ask them to detach\r\n';
    assert.deepEqual(seatHolder(notice), { who: 'alice (customer)', since: '2026-11-30T06:00:00.000Z' });
    const token = 'the console of web-1 is being written by token 7f3a (customer) over WebSocket (since 2026-11-30T06:00:00.000Z); attach read-only\r\n';
    assert.equal(seatHolder(token)?.who, 'token 7f3a (customer) over WebSocket');
    assert.equal(seatHolder('[lifeboat] idle for 3600 s'), null);
  });
});
