/**
 * Partitions and their hash tags (docs/partitions.md). A deployment has N partitions; partition i
 * is one Redis Cluster hash tag, and every key of a partition (runs, history, indexes, outbox,
 * its BullMQ queue) carries it, so each run transition is one script in one slot.
 *
 * Frozen: the tags, the run-id rule and the key rule below are part of the stored data. Changing
 * any of them moves data to other slots/partitions, so test/unit/partition-tags.test.ts pins
 * them; a new rule needs a migration.
 */
import calculateSlot from 'cluster-key-slot';
import { uuidv7 } from './uuid7.ts';

export const SLOTS = 16_384;

/** The first slot of partition i's share of the slot space, and one past its last. */
function bucket(i: number, n: number): [number, number] {
  return [Math.floor((i * SLOTS) / n), Math.floor(((i + 1) * SLOTS) / n)];
}

/**
 * Candidates for partition i, in the order they are tried: `p<i>`, then `p<i>.<j in base 36>`.
 * Short (a tag is in every key), never containing braces.
 */
function candidate(i: number, j: number): string {
  return j === 0 ? `p${i}` : `p${i}.${j.toString(36)}`;
}

/**
 * The hash tag of partition i of n: the first candidate whose slot lies in the middle half of
 * the partition's share of the 16,384 slots (share i = [i·16384/n, (i+1)·16384/n)). Partitions
 * then sit in slot order, evenly spaced, so any split of the slots into equal ranges (Redis
 * Cluster's default for k primaries) gives each primary n/k partitions, give or take one.
 */
export function partitionTag(i: number, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > SLOTS) throw new RangeError(`partition count must be an integer from 1 to ${SLOTS}`);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`partition ${i} is not in 0..${n - 1}`);
  const [lo, hi] = bucket(i, n);
  const width = hi - lo;
  // The middle half; a share of 1-3 slots has no middle, so any slot of it does.
  const from = width >= 4 ? lo + Math.floor(width / 4) : lo;
  const to = width >= 4 ? hi - Math.floor(width / 4) : hi;
  for (let j = 0; j < 10_000_000; j++) {
    const tag = candidate(i, j);
    const slot = calculateSlot(tag);
    if (slot >= from && slot < to) return tag;
  }
  throw new Error(`no hash tag found for partition ${i} of ${n}`);
}

const cache = new Map<number, readonly string[]>();

/** Every partition's tag, index = partition; computed once per n. */
export function partitionTags(n: number): readonly string[] {
  let tags = cache.get(n);
  if (!tags) {
    tags = Object.freeze(Array.from({ length: n }, (_, i) => partitionTag(i, n)));
    cache.set(n, tags);
  }
  return tags;
}

/** The Cluster slot of a partition's keys. */
export function partitionSlot(i: number, n: number): number {
  return calculateSlot(partitionTags(n)[i] as string);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A run's partition, from its id alone: the id's last 16 bits modulo n. Run ids stay plain
 * UUIDv7 (time-ordered, the API's id format); mintRunId sets those bits. Ids minted before
 * partitions existed have random bits there, so they also map to one partition each, which is
 * where the upgrade moves them.
 */
export function partitionOfRunId(runId: string, n: number): number {
  if (!UUID.test(runId)) throw new RangeError('not a run id');
  return Number.parseInt(runId.slice(-4), 16) % n;
}

/** A fresh UUIDv7 run id whose partition (partitionOfRunId) is `partition`. */
export function mintRunId(partition: number, n: number, base: string = uuidv7()): string {
  if (!Number.isInteger(partition) || partition < 0 || partition >= n) throw new RangeError(`partition ${partition} is not in 0..${n - 1}`);
  const low = Number.parseInt(base.slice(-4), 16);
  // The largest value ≤ 0xffff that is ≡ partition (mod n), at or below the random one: keeps
  // the bits random above the residue and never overflows 16 bits.
  let value = low - (low % n) + partition;
  if (value > 0xffff) value -= n;
  return `${base.slice(0, -4)}${value.toString(16).padStart(4, '0')}`;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes: a stable spread of user-chosen keys. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The partition of a user-chosen key: an entry id (every run sharing the entry lives there), or
 * a workflow's idempotency key when the start names no entry. The same key always picks the
 * same partition, so a retried or racing start meets the first one's record in one script.
 */
export function partitionOfKey(kind: 'entry' | 'idempotency', key: string, n: number): number {
  return fnv1a(`${kind}\u0000${key}`) % n;
}

/**
 * The partition of an entry: a run-id-shaped entry id (the default entry of a run is the run's
 * own id) goes by partitionOfRunId, so a run and its own entry share a partition; any other id
 * goes by partitionOfKey('entry', …). Either way the id alone decides.
 */
export function partitionOfEntry(entryId: string, n: number): number {
  return UUID.test(entryId) ? partitionOfRunId(entryId, n) : partitionOfKey('entry', entryId, n);
}
