import { describe, expect, it } from 'vitest';
import { DemoConfigError, readConfig } from '../src/config';

function refusal(env: Record<string, string>, argv: string[] = []): DemoConfigError {
  try {
    readConfig(env, argv);
  } catch (error) {
    if (error instanceof DemoConfigError) return error;
    throw error;
  }
  throw new Error('the configuration was accepted');
}

describe('readConfig', () => {
  it('has defaults for everything and generates a password', () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      role: 'both',
      amqpUrl: 'memory://',
      exchangePrefix: '',
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 1_048_576,
      maxRegistrationsPerSocket: 100,
      callbackRedirectUrl: null,
      listenerUrl: null,
      trustProxy: false,
      isPasswordGenerated: true,
    });
    expect(config.dispatcherPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(readConfig({}).dispatcherPassword).not.toBe(config.dispatcherPassword);
  });

  it('reads every variable', () => {
    const config = readConfig(
      {
        AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
        AMQP_EXCHANGE_PREFIX: 'demo.',
        HOST: '0.0.0.0',
        PORT: '0',
        DISPATCHER_PASSWORD: 'pw',
        BODY_LIMIT_BYTES: '2048',
        DISPATCHER_MAX_REGISTRATIONS: '3',
        CALLBACK_REDIRECT_URL: 'https://app.example/done',
        LISTENER_URL: 'https://listener.example/',
        TRUST_PROXY: 'true',
        LOG_LEVEL: 'warn',
      },
      ['--role', 'dispatcher'],
    );
    expect(config).toMatchObject({
      role: 'dispatcher',
      amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
      exchangePrefix: 'demo.',
      host: '0.0.0.0',
      port: 0,
      dispatcherPassword: 'pw',
      isPasswordGenerated: false,
      bodyLimitBytes: 2048,
      maxRegistrationsPerSocket: 3,
      callbackRedirectUrl: 'https://app.example/done',
      listenerUrl: 'https://listener.example',
      trustProxy: true,
      logLevel: 'warn',
    });
  });

  it.each([
    [{ AMQP_URL: 'not a url' }, 'AMQP_URL'],
    [{ AMQP_URL: 'ftp://host' }, 'AMQP_URL'],
    [{ PORT: '80a' }, 'PORT'],
    [{ PORT: '65536' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ BODY_LIMIT_BYTES: '0' }, 'BODY_LIMIT_BYTES'],
    [{ BODY_LIMIT_BYTES: '1e6' }, 'BODY_LIMIT_BYTES'],
    [{ DISPATCHER_PASSWORD: '' }, 'DISPATCHER_PASSWORD'],
    [{ DISPATCHER_MAX_REGISTRATIONS: '0' }, 'DISPATCHER_MAX_REGISTRATIONS'],
    [{ CALLBACK_REDIRECT_URL: 'javascript:alert(1)' }, 'CALLBACK_REDIRECT_URL'],
    [{ LISTENER_URL: 'listener.example' }, 'LISTENER_URL'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/8,,' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '1.2.3' }, 'TRUST_PROXY'],
    [{ REQUEST_TIMEOUT_MS: '0' }, 'REQUEST_TIMEOUT_MS'],
    [{ HEADER_LIMIT_BYTES: '100' }, 'HEADER_LIMIT_BYTES'],
    [{ WS_MAX_FRAME_BYTES: 'x' }, 'WS_MAX_FRAME_BYTES'],
    [{ MAX_WEBSOCKETS: '0' }, 'MAX_WEBSOCKETS'],
    [{ MAX_CONNECTIONS_PER_IP: '-1' }, 'MAX_CONNECTIONS_PER_IP'],
    [{ RATE_LIMIT_PER_MINUTE: '1.5' }, 'RATE_LIMIT_PER_MINUTE'],
    [{ SHUTDOWN_TIMEOUT_MS: '10' }, 'SHUTDOWN_TIMEOUT_MS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('refuses %o, naming %s', (env, variable) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^\\[@teal/demo\\] ${variable} `));
  });

  it('has safe defaults for every limit', () => {
    expect(readConfig({})).toMatchObject({
      requestTimeoutMs: 30_000,
      headerLimitBytes: 16_384,
      maxFrameBytes: 65_536,
      maxWebSockets: 10_000,
      maxConnectionsPerIp: 256,
      rateLimitPerMinute: 600,
      shutdownTimeoutMs: 30_000,
    });
  });

  it.each([
    ['false', false],
    ['0', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8', ['10.0.0.0/8']],
    [' 10.0.0.0/8, 192.168.1.1 ,fd00::/8', ['10.0.0.0/8', '192.168.1.1', 'fd00::/8']],
  ])('reads TRUST_PROXY=%s as Fastify does', (text, expected) => {
    expect(readConfig({ TRUST_PROXY: text }).trustProxy).toEqual(expected);
  });

  it('never shows the broker password of a bad AMQP_URL', () => {
    expect(refusal({ AMQP_URL: 'gopher://user:hunter2@host' }).message).not.toContain('hunter2');
  });

  it.each([
    [['--role', 'server'], '--role'],
    [['--role'], '--role'],
    [['--port', '1'], 'argument'],
  ])('refuses the arguments %o, naming %s', (argv, variable) => {
    expect(refusal({}, argv).variable).toBe(variable);
  });
});
