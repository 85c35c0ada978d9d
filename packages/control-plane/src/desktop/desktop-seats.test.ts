import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DesktopSeats } from './desktop-seats.js';

describe('desktop seats', () => {
  it('gives out at most the limit per server, each server apart', () => {
    const seats = new DesktopSeats(2);
    const first = seats.take('a');
    const second = seats.take('a');
    assert.ok(first && second);
    assert.equal(seats.take('a'), undefined);
    assert.ok(seats.take('b'), 'another server has seats of its own');
    assert.deepEqual([seats.count('a'), seats.count('b')], [2, 1]);
  });

  it('takes a seat back once, however often it is released', () => {
    const seats = new DesktopSeats(2);
    const first = seats.take('a')!;
    seats.take('a');
    first.release();
    first.release();
    assert.equal(seats.count('a'), 1);
    assert.ok(seats.take('a'));
    assert.equal(seats.take('a'), undefined);
  });
});
