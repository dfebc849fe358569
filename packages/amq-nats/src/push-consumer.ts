import { AckPolicy, type ConsumerConfig, DeliverPolicy, ReplayPolicy } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

/** How often the server says it is still there when idle; three missed and the consumer is recreated. */
export const HEARTBEAT_MS = 5_000;
/** How long the server keeps a consumer nobody listens to (a crashed or cut-off handler's). */
export const INACTIVE_MS = 30_000;

/**
 * An exchange's consumer: pushed to `inbox` from stream sequence `start` on,
 * unacknowledged (the handler tracks sequences itself), with flow control and
 * idle heartbeats, in memory (it is recreated after a server restart anyway).
 */
export function pushConsumerConfig(
  name: string,
  inbox: string,
  filter: string,
  start: number,
): Partial<ConsumerConfig> {
  return {
    name,
    deliver_subject: inbox,
    filter_subject: filter,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: start,
    replay_policy: ReplayPolicy.Instant,
    flow_control: true,
    idle_heartbeat: nanos(HEARTBEAT_MS),
    inactive_threshold: nanos(INACTIVE_MS),
    mem_storage: true,
  };
}

/** The stream and delivery sequences of a `$JS.ACK` reply subject (v1 and v2 layouts). */
export function sequencesOf(reply: string): [number, number] {
  const tokens = reply.split('.');
  const at = tokens.length === 9 ? 5 : 7;
  return [Number(tokens[at]), Number(tokens[at + 1])];
}
