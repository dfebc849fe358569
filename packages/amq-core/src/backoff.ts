/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from
 * `baseMs`, capped at `maxMs`, with full jitter so that many handlers that lost
 * one broker do not all come back at the same instant.
 */
export function backoffDelay(attempt: number, baseMs = 100, maxMs = 5_000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
