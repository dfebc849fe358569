import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** A span as an OTLP/JSON exporter sent it: ids in hex, attributes flattened. */
export interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, PRODUCER: 4, CONSUMER: 5 } as const;

interface OtlpAttribute {
  readonly key: string;
  readonly value: Record<string, unknown>;
}

/**
 * An OTLP/HTTP receiver on loopback, for exporters set to
 * `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`: keeps every span and the name
 * of every metric it is sent, and every body as text.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly metricNames = new Set<string>();
  readonly #bodies: string[] = [];
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (request, response) => {
      readBody(request).then(
        (body) => {
          receiver.#receive(request.url ?? '', body);
          response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        },
        () => response.writeHead(400).end(),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Everything received, as text: what no secret may be in. */
  everything(): string {
    return this.#bodies.join('\n');
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #receive(path: string, body: string): void {
    this.#bodies.push(body);
    const payload = JSON.parse(body) as Record<string, unknown[]>;
    if (path === '/v1/traces') {
      for (const resource of payload.resourceSpans as ResourceSpans[]) {
        const service = attributeOf(resource.resource?.attributes ?? [], 'service.name') as string;
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) this.spans.push(toSpan(service, span));
        }
      }
    } else if (path === '/v1/metrics') {
      for (const resource of payload.resourceMetrics as ResourceMetrics[]) {
        for (const scope of resource.scopeMetrics ?? []) {
          for (const metric of scope.metrics ?? []) this.metricNames.add(metric.name);
        }
      }
    }
  }
}

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes?: OtlpAttribute[];
  readonly links?: Array<{ traceId: string; spanId: string }>;
}
interface ResourceSpans {
  readonly resource?: { attributes?: OtlpAttribute[] };
  readonly scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
}
interface ResourceMetrics {
  readonly scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }>;
}

function toSpan(service: string, span: OtlpSpan): ReceivedSpan {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of span.attributes ?? []) attributes[key] = Object.values(value)[0];
  return {
    service,
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId ?? '',
    name: span.name,
    kind: span.kind,
    attributes,
    links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
  };
}

function attributeOf(attributes: readonly OtlpAttribute[], key: string): unknown {
  const found = attributes.find((attribute) => attribute.key === key);
  return found === undefined ? undefined : Object.values(found.value)[0];
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return (request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString();
}
