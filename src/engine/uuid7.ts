/**
 * UUIDv7 ids (run ids, operation ids) from uuid's own v7 layout, drawing their random bytes from a
 * pool. uuid 14 asks WebCrypto for 16 fresh bytes per id, about 18 µs here and paid by every
 * start; one randomFillSync fills 256 ids' worth. Passing bytes to uuid skips its monotonic
 * sequence, so this module keeps that state the way uuid does: ids minted in one millisecond by
 * one process still sort in minting order.
 */
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

const POOL = Buffer.alloc(16 * 256);
let next = POOL.length;
let lastMs = Number.NEGATIVE_INFINITY;
let seq = 0;

function randomBytes16(): Buffer {
  if (next === POOL.length) {
    randomFillSync(POOL);
    next = 0;
  }
  // A view is enough: uuid reads it synchronously, before the next call could refill the pool.
  const bytes = POOL.subarray(next, next + 16);
  next += 16;
  return bytes;
}

export function uuidv7(): string {
  const random = randomBytes16();
  const now = Date.now();
  if (now > lastMs) {
    // uuid's v7Sequence: 31 random bits, so a millisecond's ids start anywhere and count up.
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    lastMs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMs++;
  }
  return v7({ random, msecs: lastMs, seq });
}
