/**
 * The sent-ledger: which (channel, effect key, recipient) deliveries have gone out, so a
 * redelivered notification step (same runId/stepId/seq) skips recipients it already reached.
 *
 * An entry is written only after the channel accepted the message. What remains is an
 * at-least-once window, not a duplicate-free guarantee: a worker that dies after the SMTP server
 * or webhook receiver accepted a message and before the entry is written, or two attempts of one
 * step running at once (a stalled job redelivered while the first is still sending), send it
 * again. Each such duplicate carries the same Message-ID / webhook-id, so receivers that
 * deduplicate on those drop it.
 */
import { createHash } from 'node:crypto';
import type { RedisClient as Redis } from '../engine/redis.ts';
import type { Keyspace } from '../engine/keyspace.ts';

/** Stable per (channel, effect key, recipient); also the basis of Message-IDs and webhook ids. */
export function deliveryDigest(channel: string, effectKey: string, recipientId: string): string {
  return createHash('sha256').update(`${channel}\n${effectKey}\n${recipientId}`).digest('base64url').slice(0, 32);
}

export class SentLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keyspace,
    /** How long a delivery is remembered; outlive any redelivery of the step. Default 30 days. */
    private readonly ttlSec = 30 * 86_400,
  ) {}

  async has(channel: string, effectKey: string, recipientId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.notifySent(deliveryDigest(channel, effectKey, recipientId)))) === 1;
  }

  async record(channel: string, effectKey: string, recipientId: string, at = new Date()): Promise<void> {
    await this.redis.set(this.keys.notifySent(deliveryDigest(channel, effectKey, recipientId)), at.toISOString(), 'EX', this.ttlSec);
  }
}
