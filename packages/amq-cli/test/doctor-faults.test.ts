import { describeWithBroker, probeBroker } from '@teal/amq-core/testing';
import { describe, expect, it } from 'vitest';
import { BROKERS, urlWith } from './support/brokers';
import { runCli } from './support/cli';

const [rabbitmq, redis, nats, postgres] = BROKERS;
/** A password that must never appear in what doctor prints. */
const SECRET = 'not-the-password-7c1f';

/** Runs doctor and checks the one failed step, its remedy, and that no secret is printed. */
async function expectDiagnosis(url: string, step: string, problem: RegExp, remedy: RegExp) {
  const result = await runCli(['doctor', '--timeout', '5s'], { AMQP_URL: url });
  expect(result.stdout).toMatch(new RegExp(`^FAIL +${step} +${problem.source}`, 'm'));
  expect(result.stdout).toMatch(new RegExp(`^ +remedy: ${remedy.source}`, 'm'));
  expect(result.stdout + result.stderr).not.toContain(SECRET);
  expect(result.code).toBe(1);
  return result;
}

describeWithBroker('doctor on RabbitMQ, refused', await probeBroker(rabbitmq.url), () => {
  it('a wrong password: the login was refused, check the user and password', async () => {
    await expectDiagnosis(
      urlWith(rabbitmq.url, (url) => {
        url.username = 'guest';
        url.password = SECRET;
      }),
      'broker',
      /RabbitMQ refused the login of user "guest" \(ACCESS_REFUSED\): wrong user or password/,
      /correct the user and password in AMQP_URL/,
    );
  });

  it('a vhost that does not exist: create it or grant it', async () => {
    await expectDiagnosis(
      urlWith(rabbitmq.url, (url) => {
        url.pathname = '/teal-no-such-vhost';
      }),
      'broker',
      /RabbitMQ has no vhost "teal-no-such-vhost" open to user "guest" \(NOT_ALLOWED\)/,
      /create it or grant it: rabbitmqctl add_vhost teal-no-such-vhost/,
    );
  });

  it('amqps:// to the plain port: it does not speak TLS, use amqp://', async () => {
    await expectDiagnosis(
      urlWith(rabbitmq.url, (url) => {
        url.protocol = 'amqps:';
        if (url.port === '') url.port = '5672';
      }),
      'broker',
      /127\.0\.0\.1:5672 does not speak TLS/,
      /use amqp:\/\/ for this port/,
    );
  });
});

describeWithBroker('doctor on Redis, refused', await probeBroker(redis.url), () => {
  it('a user and password Redis does not know: WRONGPASS', async () => {
    await expectDiagnosis(
      urlWith(redis.url, (url) => {
        url.username = 'teal-nobody';
        url.password = SECRET;
      }),
      'broker',
      /Redis refused user "teal-nobody" and its password \(WRONGPASS\)/,
      /correct the user and password in AMQP_URL/,
    );
  });
});

describeWithBroker('doctor on NATS, refused', await probeBroker(nats.url), () => {
  it('tls:// to a server without TLS: the handshake fails, say so', async () => {
    await expectDiagnosis(
      urlWith(nats.url, (url) => {
        url.protocol = 'tls:';
      }),
      'broker',
      /.*TLS/,
      /.*TLS/,
    );
  });
});

// PostgreSQL here trusts local connections, so no password can be wrong: a
// database and a user that do not exist stand for refused credentials.
describeWithBroker('doctor on PostgreSQL, refused', await probeBroker(postgres.url), () => {
  it('a database that does not exist: create it, or name another', async () => {
    await expectDiagnosis(
      urlWith(postgres.url, (url) => {
        url.pathname = '/teal_no_such_database';
      }),
      'broker',
      /PostgreSQL has no database "teal_no_such_database" \(3D000\)/,
      /create it \(createdb teal_no_such_database\)/,
    );
  });

  it('a user that does not exist: create it, or name another', async () => {
    await expectDiagnosis(
      urlWith(postgres.url, (url) => {
        url.username = 'teal_no_such_user';
        url.password = SECRET;
      }),
      'broker',
      /PostgreSQL (has no role "teal_no_such_user" \(28000\)|refused the password of user "teal_no_such_user" \(28P01\))/,
      /(create it \(createuser teal_no_such_user\)|correct the password in AMQP_URL)/,
    );
  });
});

describe('doctor, before any broker answers', () => {
  it('a host name that does not resolve', async () => {
    await expectDiagnosis(
      `amqp://guest:${SECRET}@teal-no-such-host.invalid:5672`,
      'broker',
      /the host name teal-no-such-host\.invalid does not resolve \(DNS\)/,
      /correct the host in AMQP_URL/,
    );
  });

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
