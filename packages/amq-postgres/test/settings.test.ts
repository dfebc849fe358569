import { AMQSettingsError } from '@teal/amq-core';
import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../src/settings';

describe('postgres settings', () => {
  it('reads the server and the adapter settings from the URL; options win', () => {
    const settings = resolveSettings({
      url: 'postgresql://app:s%40cret@db.example:6543/teal?retentionMs=60000&schema=amq&sslmode=require',
      readBatch: 50,
    });
    expect(settings.server).toMatchObject({
      host: 'db.example',
      port: 6543,
      user: 'app',
      password: 's@cret',
      database: 'teal',
      ssl: { rejectUnauthorized: false },
    });
    expect(settings).toMatchObject({ retentionMs: 60_000, schema: 'amq', readBatch: 50 });
  });

  it('names the setting at fault, never the password', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ url: 'redis://h' }, 'url'],
      [{ url: 'postgres://u:Secret-Pw@h/db?leaseMs=abc' }, 'url'],
      [{ url: 'postgres://u:Secret-Pw@h/db', maxMessages: 0 }, 'maxMessages'],
      [{ url: 'postgres://u:Secret-Pw@h/db', schema: 'Bad-Name' }, 'schema'],
      [{ url: 'postgres://u:Secret-Pw@h/db?sslmode=maybe' }, 'url'],
    ];
    for (const [options, setting] of cases) {
      let caught: unknown;
      try {
        resolveSettings(options as never);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(AMQSettingsError);
      expect((caught as AMQSettingsError).setting).toBe(setting);
      expect((caught as Error).message).not.toContain('Secret-Pw');
    }
  });
});
