import { describe, expect, it } from 'vitest';
import { startBanner } from '../src/banner';
import { readConfig } from '../src/config';

describe('startBanner', () => {
  it('prints the URL to open with the generated password', () => {
    const config = readConfig({});
    const banner = startBanner(config, 8080);
    expect(banner).toContain('(listener + dispatcher) on memory://');
    expect(banner).toContain('listening on http://127.0.0.1:8080\n');
    expect(banner).toContain(`open http://127.0.0.1:8080/#password=${config.dispatcherPassword}\n`);
    expect(banner).toContain('OAuth2 redirect URI: http://127.0.0.1:8080/callback');
  });

  it('never prints a password that came from the environment, nor the broker password', () => {
    const config = readConfig(
      {
        DISPATCHER_PASSWORD: 'from-env',
        AMQP_URL: 'amqp://guest:broker-pw@h:5672',
        HOST: '0.0.0.0',
      },
      ['--role', 'dispatcher'],
    );
    const banner = startBanner(config, 9000);
    expect(banner).not.toContain('from-env');
    expect(banner).not.toContain('broker-pw');
    expect(banner).toContain('open http://localhost:9000/ (user anonymous');
    expect(banner).not.toContain('/callback');
  });

  it('prints only the listener URLs for a listener', () => {
    const banner = startBanner(readConfig({}, ['--role', 'listener']), 1);
    expect(banner).not.toContain('open ');
    expect(banner).toContain('/powens-webhook/<domain>.biapi.pro/<EVENT>');
  });
});
