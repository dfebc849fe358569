import { describe, expect, it } from 'vitest';
import { decodeStrictBase64, hasDispatcherCredentials } from '../src/dispatcher/auth';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('decodeStrictBase64', () => {
  it.each([
    ['', ''],
    ['YQ==', 'a'],
    ['YWI=', 'ab'],
    ['YWJj', 'abc'],
    [b64('anonymous:pässword+/?'), 'anonymous:pässword+/?'],
  ])('decodes %s', (text, decoded) => {
    expect(decodeStrictBase64(text)).toBe(decoded);
  });

  it.each([
    ['text after the padding', `${b64('anonymous:pw')}==junk`],
    ['text after one =', 'YWI=YQ=='],
    ['missing padding', 'YQ'],
    ['too much padding', 'YQ==='],
    ['the URL-safe alphabet', Buffer.from([0xfb, 0xff]).toString('base64url')],
    ['a space', 'YW Jj'],
    ['a newline', 'YWJj\n'],
    ['not UTF-8', Buffer.from([0xff, 0xfe, 0xfd]).toString('base64')],
    ['too long', 'A'.repeat(4100)],
  ])('refuses %s', (_case, text) => {
    expect(decodeStrictBase64(text)).toBeNull();
  });

  it('runs in linear time on hostile input', () => {
    const hostile = `${'AAAA'.repeat(1000)}A=`;
    const started = performance.now();
    for (let i = 0; i < 100; i++) decodeStrictBase64(hostile);
    // Generous: a backtracking blow-up takes seconds, not milliseconds.
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('hasDispatcherCredentials', () => {
  const request = (authorization: string | undefined, url = '/websocket') => ({
    headers: { authorization },
    url,
  });

  it('takes Basic anonymous:<password>, the scheme in any case', () => {
    expect(hasDispatcherCredentials(request(`Basic ${b64('anonymous:pw')}`), 'pw')).toBe(true);
    expect(hasDispatcherCredentials(request(`basic ${b64('anonymous:pw')}`), 'pw')).toBe(true);
    expect(hasDispatcherCredentials(request(`Basic ${b64('anonymous:pw2')}`), 'pw')).toBe(false);
    expect(hasDispatcherCredentials(request(`Basic ${b64('admin:pw')}`), 'pw')).toBe(false);
  });

  it('takes ?credentials= only without an Authorization header', () => {
    const query = `/websocket?credentials=${encodeURIComponent(b64('anonymous:pw'))}`;
    expect(hasDispatcherCredentials(request(undefined, query), 'pw')).toBe(true);
    expect(hasDispatcherCredentials(request('Basic !!', query), 'pw')).toBe(false);
    expect(hasDispatcherCredentials(request(undefined, '/websocket'), 'pw')).toBe(false);
  });
});
