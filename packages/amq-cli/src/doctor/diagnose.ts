import { type ErrorFacts, factsOf } from './facts';

/** What went wrong, in one line, and what to do about it, in one line. */
export interface Diagnosis {
  readonly problem: string;
  readonly remedy: string;
}

type Rule = (facts: ErrorFacts) => Diagnosis | null;

const has = (facts: ErrorFacts, ...codes: string[]) => codes.some((code) => facts.codes.has(code));
const where = (facts: ErrorFacts) => `${facts.host}:${facts.port ?? '?'}`;
const userOf = (facts: ErrorFacts, fallback: string) => facts.user || fallback;

const TLS_SCHEMES: Readonly<Record<string, string>> = {
  'amqps:': 'amqp:',
  'rediss:': 'redis:',
  'tls:': 'nats:',
};

const CERT_CODE =
  /^(?:CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|ERR_TLS_CERT_ALTNAME_INVALID)/;

/** Where the network fails before any broker speaks. */
const NETWORK: readonly Rule[] = [
  (facts) =>
    has(facts, 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME') || facts.text.includes('getaddrinfo')
      ? {
          problem: `the host name ${facts.host} does not resolve (DNS)`,
          remedy: 'correct the host in AMQP_URL, or fix the DNS of this machine',
        }
      : null,
  (facts) =>
    has(facts, 'ECONNREFUSED') || facts.text.includes('econnrefused')
      ? {
          problem: `nothing listens on ${where(facts)} (connection refused)`,
          remedy: `start the broker, or correct the host and port in AMQP_URL (${facts.scheme}// defaults to port ${facts.defaultPort})`,
        }
      : null,
  (facts) =>
    has(facts, 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN')
      ? {
          problem: `${facts.host} is unreachable from here (${[...facts.codes].join(', ')})`,
          remedy: `check the host in AMQP_URL, the network route and the firewalls between here and ${where(facts)}`,
        }
      : null,
];

/** Where TLS is wanted by one side and not the other, or its certificate is not trusted. */
const TLS: readonly Rule[] = [
  (facts) =>
    [...facts.codes].some((code) => CERT_CODE.test(code)) ||
    /certificate|self[- ]signed/.test(facts.text)
      ? {
          problem: `the broker's TLS certificate is not trusted: ${facts.message}`,
          remedy:
            'give Node the CA that signed it (NODE_EXTRA_CA_CERTS=/path/to/ca.pem) and use the host name the certificate names',
        }
      : null,
  (facts) => {
    const plain = TLS_SCHEMES[facts.scheme];
    return plain !== undefined &&
      /wrong version number|packet length too long|unknown protocol|ssl routines|ssl3_get_record|does not support .?tls/.test(
        facts.text,
      )
      ? {
          problem: `${where(facts)} does not speak TLS (the TLS handshake got a plain answer)`,
          remedy: `use ${plain}// for this port, or the port where the broker listens with TLS`,
        }
      : null;
  },
  (facts) => {
    // A plain server sent a TLS hello waits for a request that never comes: silence, not an error.
    const plain = TLS_SCHEMES[facts.scheme];
    return plain !== undefined &&
      (has(facts, 'ETIMEDOUT') || /timed? ?out|timeout/.test(facts.text))
      ? {
          problem: `no TLS handshake answer from ${where(facts)} in time`,
          remedy: `if that port does not speak TLS, use ${plain}// (or the broker's TLS port); otherwise check that a broker runs there and no firewall drops the packets`,
        }
      : null;
  },
  (facts) =>
    facts.text.includes('does not support ssl')
      ? {
          problem: 'the PostgreSQL server does not accept TLS connections',
          remedy: 'remove sslmode=require from AMQP_URL, or turn ssl on in postgresql.conf',
        }
      : null,
  (facts) =>
    /tls required|requires tls|ssl required|ssl is required/.test(facts.text)
      ? {
          problem: `the broker at ${where(facts)} accepts TLS connections only`,
          remedy: facts.scheme.startsWith('postgres')
            ? 'add ?sslmode=require (or verify-full) to AMQP_URL'
            : `use the TLS scheme (amqps://, rediss://, tls://) in AMQP_URL`,
        }
      : null,
];

/** A TLS failure no rule above explains. */
const TLS_OTHER: readonly Rule[] = [
  (facts) =>
    [...facts.codes].some((code) => /^ERR_(?:SSL|TLS)_/.test(code)) ||
    /\btls\b|\bssl\b|handshake/.test(facts.text)
      ? {
          problem: `the TLS handshake with ${where(facts)} failed: ${facts.message}`,
          remedy:
            "check that the URL's scheme (amqps://, rediss://, tls://, ?sslmode=) and the port agree on TLS",
        }
      : null,
];

/** What each broker says when it refuses credentials or an operation. */
const BROKER: readonly Rule[] = [
  // RabbitMQ: ACCESS_REFUSED at login, NOT_ALLOWED for a vhost, ACCESS_REFUSED on a resource.
  (facts) =>
    facts.scheme.startsWith('amqp') &&
    /access[_-]refused/.test(facts.text) &&
    /login|authentication mechanism/.test(facts.text)
      ? {
          problem: `RabbitMQ refused the login of user "${userOf(facts, 'guest')}" (ACCESS_REFUSED): wrong user or password`,
          remedy:
            'correct the user and password in AMQP_URL (URL-encoded: @ is %40); `rabbitmqctl list_users` lists the users, and guest may only log in from localhost',
        }
      : null,
  (facts) =>
    facts.scheme.startsWith('amqp') && /access[_-]refused/.test(facts.text)
      ? {
          problem: `RabbitMQ refused user "${userOf(facts, 'guest')}" an operation (ACCESS_REFUSED): ${facts.message}`,
          remedy: `grant configure, write and read on the exchanges of the prefix and on the handler queues: rabbitmqctl set_permissions -p ${facts.path || '/'} ${userOf(facts, 'guest')} '.*' '.*' '.*' (or narrower patterns)`,
        }
      : null,
  (facts) =>
    facts.scheme.startsWith('amqp') &&
    // amqplib only says "Expected ConnectionOpenOk; got <ConnectionClose…>": RabbitMQ closes
    // at connection.open when the vhost does not exist or the user may not use it.
    /not[_-]allowed|vhost|expected connectionopenok/.test(facts.text)
      ? {
          problem: `RabbitMQ has no vhost "${facts.path || '/'}" open to user "${userOf(facts, 'guest')}" (NOT_ALLOWED)`,
          remedy: `create it or grant it: rabbitmqctl add_vhost ${facts.path || '/'} && rabbitmqctl set_permissions -p ${facts.path || '/'} ${userOf(facts, 'guest')} '.*' '.*' '.*'`,
        }
      : null,
  // Redis: WRONGPASS, NOAUTH, NOPERM.
  (facts) =>
    /wrongpass|invalid username-password/.test(facts.text)
      ? {
          problem: `Redis refused user "${userOf(facts, 'default')}" and its password (WRONGPASS)`,
          remedy: 'correct the user and password in AMQP_URL: redis://USER:PASSWORD@host:6379',
        }
      : null,
  (facts) =>
    /noauth|authentication required/.test(facts.text)
      ? {
          problem: 'Redis requires a password and AMQP_URL gives none (NOAUTH)',
          remedy: `put it in AMQP_URL: redis://:PASSWORD@${where(facts)} (or redis://USER:PASSWORD@…)`,
        }
      : null,
  (facts) =>
    /noperm/.test(facts.text)
      ? {
          problem: `the Redis ACL of user "${userOf(facts, 'default')}" forbids a command or key the adapter uses (NOPERM)`,
          remedy: `grant them: ACL SETUSER ${userOf(facts, 'default')} +@stream +@keyspace +@scripting +@pubsub +@connection ~* &* (or narrower key patterns)`,
        }
      : null,
  // NATS: Authorization Violation, Permissions Violation.
  (facts) =>
    /authorization[ _]violation|authentication (?:expired|timeout)|user authentication/.test(
      facts.text,
    )
      ? {
          problem:
            facts.user === ''
              ? 'NATS requires credentials and AMQP_URL gives none (Authorization Violation)'
              : 'NATS refused the credentials (Authorization Violation)',
          remedy:
            'correct the user and password (or token) in AMQP_URL: nats://USER:PASSWORD@host:4222 or nats://TOKEN@host:4222',
        }
      : null,
  (facts) =>
    /permissions?[ _]violation/.test(facts.text)
      ? {
          problem: `NATS denied this user a subject (Permissions Violation): ${facts.message}`,
          remedy:
            "allow publish and subscribe on the adapter's subjects (teal.>, _INBOX.>, and $JS.API.> in JetStream mode) in the server's authorization",
        }
      : null,
  // PostgreSQL: SQLSTATE codes.
  (facts) =>
    has(facts, '28P01')
      ? {
          problem: `PostgreSQL refused the password of user "${facts.user}" (28P01)`,
          remedy: 'correct the password in AMQP_URL: postgres://USER:PASSWORD@host:5432/DATABASE',
        }
      : null,
  (facts) =>
    has(facts, '28000') && /role .{0,200} does not exist/.test(facts.text)
      ? {
          problem: `PostgreSQL has no role "${facts.user}" (28000)`,
          remedy: `create it (createuser ${facts.user}) or name an existing user in AMQP_URL`,
        }
      : null,
  (facts) =>
    has(facts, '28000')
      ? {
          problem: `pg_hba.conf lets no connection in from here as user "${facts.user}" to database "${facts.path}" (28000)`,
          remedy:
            'add a host line for this user, database and address to pg_hba.conf, then reload PostgreSQL',
        }
      : null,
  (facts) =>
    has(facts, '3D000')
      ? {
          problem: `PostgreSQL has no database "${facts.path}" (3D000)`,
          remedy: `create it (createdb ${facts.path || 'NAME'}) or name an existing database in AMQP_URL: postgres://USER@host:5432/DATABASE`,
        }
      : null,
  (facts) =>
    has(facts, '42501')
      ? {
          problem: `PostgreSQL user "${facts.user}" lacks a privilege the adapter needs (42501): ${facts.message}`,
          remedy: `grant it, for example GRANT CREATE, USAGE ON SCHEMA public TO ${facts.user || 'USER'} (the adapter creates its tables on first use)`,
        }
      : null,
];

/** What is left: slow or silent brokers, dropped connections, the CLI's own setup. */
const OTHER: readonly Rule[] = [
  (facts) =>
    facts.isAdapterMissing
      ? {
          problem: facts.message.replace(/: install it.*$/, ''),
          remedy: facts.message.replace(/^.*: install it with /, 'install it: ').replace(/`/g, ''),
        }
      : null,
  (facts) =>
    facts.isSettings
      ? { problem: facts.message, remedy: 'correct AMQP_URL (or --amqp-url)' }
      : null,
  (facts) =>
    has(facts, 'ETIMEDOUT') || /timed? ?out|timeout/.test(facts.text)
      ? {
          problem: `no answer from ${where(facts)} in time: ${facts.message}`,
          remedy: `check that a broker runs at ${where(facts)} and that no firewall drops the packets; on a slow link, try a longer --timeout`,
        }
      : null,
  (facts) =>
    has(facts, 'ECONNRESET', 'EPIPE') ||
    /socket hang up|connection (?:closed|lost|ended)|closed/.test(facts.text)
      ? {
          problem: `the connection to ${where(facts)} closed before the broker answered: ${facts.message}`,
          remedy: `check that ${where(facts)} is a ${facts.scheme.replace(':', '')} port (the URL's scheme picks the protocol) and the broker's log`,
        }
      : null,
];

const RULES: readonly Rule[] = [
  ...OTHER.slice(0, 2),
  ...NETWORK,
  ...TLS,
  ...BROKER,
  ...TLS_OTHER,
  ...OTHER.slice(2),
];

/**
 * Says what went wrong when reaching the broker at `url` failed, and what to
 * do about it, each in one line; no secret of the URL appears in either.
 */
export function diagnose(error: unknown, url: string): Diagnosis {
  const facts = factsOf(error, url);
  for (const rule of RULES) {
    const diagnosis = rule(facts);
    if (diagnosis !== null) return diagnosis;
  }
  return {
    problem: facts.message,
    remedy: `check AMQP_URL and that the broker at ${where(facts)} runs`,
  };
}
