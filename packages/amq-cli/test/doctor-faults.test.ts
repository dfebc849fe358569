import { describeWithBroker, probeBroker } from '@teal/amq-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKERS, urlWith } from './support/brokers';
import { runCli } from './support/cli';
import { hasNatsServer, startNatsWithAuth } from './support/nats-server';

const [rabbitmq, redis, nats, postgres] = BROKERS;
/** A password that must never appear in what doctor prints. */
const SECRET = 'not-the-password-7c1f';

/** Runs doctor and checks the one failed step, its remedy, and that no secret is printed. */
async function expectDiagnosis(url: string, problem: RegExp, remedy: RegExp): Promise<void> {
  const result = await runCli(['doctor', '--timeout', '5s'], { AMQP_URL: url });
  expect(result.stdout).toMatch(new RegExp(`^FAIL +broker +${problem.source}`, 'm'));
  expect(result.stdout).toMatch(new RegExp(`^ +remedy: ${remedy.source}`, 'm'));
  expect(result.stdout).toMatch(/^skip +connect +skipped: broker failed/m);
  expect(result.stdout + result.stderr).not.toContain(SECRET);
  expect(result.code).toBe(1);
}

/** A case: what is wrong with the broker's URL, what doctor must say, and what it must advise. */
type Case = readonly [title: string, change: (url: URL) => void, problem: RegExp, remedy: RegExp];

const CASES: ReadonlyArray<readonly [(typeof BROKERS)[number], string, readonly Case[]]> = [
  [
    rabbitmq,
    'RabbitMQ',
    [
      [
        'a wrong password',
        (url) => {
          url.username = 'guest';
          url.password = SECRET;
        },
        /RabbitMQ refused the login of user "guest" \(ACCESS_REFUSED\): wrong user or password/,
        /correct the user and password in AMQP_URL/,
      ],
      [
        'a vhost that does not exist',
        (url) => {
          url.pathname = '/teal-no-such-vhost';
        },
        /RabbitMQ has no vhost "teal-no-such-vhost" open to user "guest" \(NOT_ALLOWED\)/,
        /create it or grant it: rabbitmqctl add_vhost teal-no-such-vhost/,
      ],
      [
        'amqps:// to the plain port',
        (url) => {
          url.protocol = 'amqps:';
          url.port = url.port || '5672';
        },
        /127\.0\.0\.1:5672 does not speak TLS/,
        /use amqp:\/\/ for this port/,
      ],
    ],
  ],
  [
    redis,
    'Redis',
    [
      [
        'a user and password it does not know',
        (url) => {
          url.username = 'teal-nobody';
          url.password = SECRET;
        },
        /Redis refused user "teal-nobody" and its password \(WRONGPASS\)/,
        /correct the user and password in AMQP_URL/,
      ],
      [
        'rediss:// to the plain port (the server waits in silence)',
        (url) => {
          url.protocol = 'rediss:';
        },
        /no TLS handshake answer from 127\.0\.0\.1:6379 in time/,
        /if that port does not speak TLS, use redis:\/\//,
      ],
    ],
  ],
  [
    nats,
    'NATS',
    [
      [
        'tls:// to a server without TLS',
        (url) => {
          url.protocol = 'tls:';
        },
        /127\.0\.0\.1:4222 does not speak TLS/,
        /use nats:\/\/ for this port/,
      ],
    ],
  ],
  // This PostgreSQL trusts local connections, so no password can be wrong: a
  // database and a user that do not exist stand for refused credentials.
  [
    postgres,
    'PostgreSQL',
    [
      [
        'a database that does not exist',
        (url) => {
          url.pathname = '/teal_no_such_database';
        },
        /PostgreSQL has no database "teal_no_such_database" \(3D000\)/,
        /create it \(createdb teal_no_such_database\) or name an existing database/,
      ],
      [
        'a user that does not exist',
        (url) => {
          url.username = 'teal_no_such_user';
          url.password = SECRET;
        },
        /PostgreSQL (has no role "teal_no_such_user" \(28000\)|refused the password of user "teal_no_such_user" \(28P01\))/,
        /(create it \(createuser teal_no_such_user\)|correct the password in AMQP_URL)/,
      ],
    ],
  ],
];

for (const [broker, name, cases] of CASES) {
  describeWithBroker(`doctor on ${name}, refused`, await probeBroker(broker.url), () => {
    it.each(cases)('%s', (_title, change, problem, remedy) =>
      expectDiagnosis(urlWith(broker.url, change), problem, remedy),
    );
  });
}

describe.skipIf(!hasNatsServer())('doctor on a NATS server that requires a password', () => {
  let server: { port: number; stop(): void };
  beforeAll(async () => {
    server = await startNatsWithAuth('teal', 'the-right-password');
  });
  afterAll(() => server?.stop());

  it('a wrong password: NATS refused the credentials', () =>
    expectDiagnosis(
      `nats://teal:${SECRET}@127.0.0.1:${server.port}`,
      /NATS refused the credentials \(Authorization Violation\)/,
      /correct the user and password \(or token\) in AMQP_URL/,
    ));

  it('no credentials: NATS requires them', () =>
    expectDiagnosis(
      `nats://127.0.0.1:${server.port}`,
      /NATS requires credentials and AMQP_URL gives none \(Authorization Violation\)/,
      /correct the user and password \(or token\) in AMQP_URL/,
    ));

  it('the right password: every check passes', async () => {
    const result = await runCli(['doctor'], {
      AMQP_URL: `nats://teal:the-right-password@127.0.0.1:${server.port}`,
    });
    expect(result.stdout).toMatch(/^all 8 checks passed/m);
    expect(result.stdout).not.toContain('the-right-password');
    expect(result.code).toBe(0);
  });
});

describe('doctor, before any broker answers', () => {
  it('a host name that does not resolve', () =>
    expectDiagnosis(
      `amqp://guest:${SECRET}@teal-no-such-host.invalid:5672`,
      /the host name teal-no-such-host\.invalid does not resolve \(DNS\)/,
      /correct the host in AMQP_URL/,
    ));

  it('a scheme no adapter serves', async () => {
    const result = await runCli(['doctor'], { AMQP_URL: 'kafka://localhost:9092' });
    expect(result.stdout).toMatch(/^FAIL +adapter +no adapter serves kafka: URLs/m);
    expect(result.code).toBe(1);
  });

  it('no AMQP_URL at all', async () => {
    const result = await runCli(['doctor']);
    expect(result.stdout).toMatch(/^FAIL +settings +.*AMQP_URL is not set/m);
    expect(result.stdout).toMatch(/^ +remedy: set AMQP_URL to the broker URL/m);
    expect(result.code).toBe(1);
  });
});
