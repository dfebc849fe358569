import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos, type ServerInfo } from '@nats-io/transport-node';
import {
  type AMQExchangeName,
  AMQSettingsError,
  type Logger,
  messageOf,
} from '@teal/amq-core/adapter';
import { Coalescer, isStreamNotFound } from './connection-retry';
import type { Subjects } from './names';
import type { NatsSettings } from './settings';

/**
 * The JetStream stream of one exchange prefix: it captures every subject of
 * the prefix with bounded retention (age and bytes, oldest dropped first).
 */
export class PrefixStream {
  readonly name: string;
  readonly #jsm: JetStreamManager;
  readonly #config: Partial<StreamConfig> & { name: string };
  readonly #logger: Logger;
  readonly #subject: string;
  readonly #ends: Coalescer<number>;
  /** The stream's own limit on one message (headers included), if it has one. */
  maxMessageSize = Number.POSITIVE_INFINITY;
  /** Counts the times the stream was seen created again (deleted meanwhile): sequences restarted. */
  generation = 0;
  #created: string | undefined;

  constructor(
    jsm: JetStreamManager,
    settings: NatsSettings,
    subjects: Subjects,
    logger: Logger,
    server: ServerInfo | undefined,
  ) {
    this.#jsm = jsm;
    this.#logger = logger;
    this.name = settings.streamName;
    this.#subject = subjects.wildcard;
    this.#config = {
      name: settings.streamName,
      description: 'TeaL AMQ: the messages of one exchange prefix',
      subjects: [subjects.wildcard],
      retention: RetentionPolicy.Limits,
      storage: settings.streamStorage === 'memory' ? StorageType.Memory : StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(settings.streamMaxAgeMs),
      max_bytes: settings.streamMaxBytes,
      duplicate_window: nanos(settings.duplicateWindowMs),
      num_replicas: replicasOf(settings.streamReplicas, server),
    };
    this.#ends = new Coalescer(async () => (await this.info()).state.last_seq);
  }

  /** Creates the stream unless it exists; an existing one is used as it is. */
  async ensure(): Promise<void> {
    let info: StreamInfo;
    try {
      info = await this.#jsm.streams.info(this.name);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      try {
        info = await this.#jsm.streams.add(this.#config);
        this.#logger.info('created the JetStream stream', {
          stream: this.name,
          replicas: this.#config.num_replicas,
        });
      } catch (addError) {
        if (isPlacementError(addError)) throw this.#replicasError(addError);
        // Another handler created it meanwhile, perhaps with other limits: use theirs.
        info = await this.#jsm.streams.info(this.name).catch(() => {
          throw addError;
        });
      }
    }
    this.#check(info);
    const replicas = info.config.num_replicas;
    if (replicas < (this.#config.num_replicas ?? 1)) {
      this.#logger.warn(
        'the JetStream stream exists with fewer replicas than streamReplicas asks',
        {
          stream: this.name,
          replicas,
        },
      );
    }
  }

  /** The stream's state, and checks it still captures the prefix. */
  async info(): Promise<StreamInfo> {
    const info = await this.#jsm.streams.info(this.name);
    this.#check(info);
    return info;
  }

  /**
   * The sequence the next message will get, read after the call: every message
   * acknowledged before the call has a lower one. Concurrent calls share reads.
   */
  async nextSequence(): Promise<number> {
    return (await this.#ends.run()) + 1;
  }

  /**
   * Where a consumer that handed over `lastSequence` of the stream's
   * `generation` resumes, warning about what the stream lost meanwhile: the
   * whole stream (deleted and created again: from its start), its last
   * messages (a server that lost its store's tail: at its end) or its oldest
   * ones (retention: after what is left).
   */
  async resumeAfter(
    lastSequence: number,
    generation: number,
    exchange: AMQExchangeName,
  ): Promise<{ lastSequence: number; generation: number; isRewound: boolean }> {
    const { state } = await this.info();
    const fields = { stream: this.name, exchange };
    if (this.generation !== generation) {
      this.#logger.warn(
        'the JetStream stream was created again; delivering it from its start',
        fields,
      );
      return { lastSequence: 0, generation: this.generation, isRewound: true };
    }
    if (state.last_seq < lastSequence) {
      this.#logger.warn('the JetStream stream lost its last messages; resuming at its end', fields);
      return { lastSequence: state.last_seq, generation, isRewound: true };
    }
    if (state.first_seq > lastSequence + 1) {
      // Some of them may have been for other exchanges: the stream holds the whole prefix.
      this.#logger.warn(
        'the JetStream stream dropped messages (max age or bytes) while the consumer was away',
        { ...fields, droppedSequences: state.first_seq - 1 - lastSequence },
      );
    }
    return { lastSequence, generation, isRewound: false };
  }

  #replicasError(cause: unknown): AMQSettingsError {
    return new AMQSettingsError(
      'streamReplicas',
      `[@teal/amq-nats] the stream ${this.name} cannot have ${this.#config.num_replicas} replicas here (${messageOf(cause)}): set streamReplicas to at most the number of JetStream servers in the cluster, 1 on a single server`,
      { cause },
    );
  }

  #check(info: StreamInfo): void {
    if (!(info.config.subjects ?? []).includes(this.#subject)) {
      throw new AMQSettingsError(
        'streamName',
        `[@teal/amq-nats] the stream ${this.name} exists but does not capture ${this.#subject}: choose another streamName or fix the stream`,
      );
    }
    // `created` survives server restarts: a new value is a new stream.
    if (this.#created !== undefined && info.created !== this.#created) this.generation++;
    this.#created = info.created;
    const limit = info.config.max_msg_size;
    this.maxMessageSize = limit !== undefined && limit > 0 ? limit : Number.POSITIVE_INFINITY;
  }
}

/**
 * The replicas of a stream this handler creates: `streamReplicas`, or when it
 * is 0 (the default) 3 on a cluster of three or more servers, else 1.
 */
export function replicasOf(streamReplicas: number, server: ServerInfo | undefined): number {
  if (streamReplicas > 0) return streamReplicas;
  const servers = server?.cluster === undefined ? 1 : (server.connect_urls?.length ?? 1);
  return servers >= 3 ? 3 : 1;
}

/** Whether JetStream refused a stream because it cannot place that many replicas. */
function isPlacementError(error: unknown): boolean {
  // 10005: no suitable peers for placement; 10074: replicas > 1 on a server without a cluster.
  return error instanceof JetStreamApiError && (error.code === 10005 || error.code === 10074);
}
