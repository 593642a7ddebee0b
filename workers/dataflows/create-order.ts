/**
 * Example `module` dataflow for the purchase-approval workflow: "creates" an order for the
 * approved request and returns its number. A real one would call the order system, passing
 * `effectKey` along as its idempotency key so a retried step never orders twice.
 */
import { createHash } from 'node:crypto';

export default function createOrder(input: unknown, ctx: { effectKey: string }): { orderId: string; item: unknown } {
  const request = (input ?? {}) as { item?: unknown };
  const orderId = `PO-${createHash('sha256').update(ctx.effectKey).digest('hex').slice(0, 8).toUpperCase()}`;
  return { orderId, item: request.item ?? null };
}
