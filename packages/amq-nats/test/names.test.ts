import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeToken, encodeToken, Subjects, SubjectTokenError } from '../src/names';

/** All a token may hold: no separator, wildcard, whitespace or control character, never empty. */
const LEGAL = /^[A-Za-z0-9_-]+$/;

const tricky = [
  'a.b',
  'a_b',
  'a b',
  '*',
  '>',
  '_',
  '_2E',
  '_5F',
  'a.*',
  'a.>',
  '%2E',
  'état/½',
  '日本語',
  '😀',
  '\u200b',
  '\u00a0',
  '\ufeff',
  ' ',
  '\t',
  'x'.repeat(255),
  'é'.repeat(127),
  '😀'.repeat(63),
];

describe('subject tokens', () => {
  it('keeps tricky keys distinct, legal, non-empty and reversible', () => {
    const tokens = tricky.map(encodeToken);
    expect(new Set(tokens).size).toBe(tricky.length);
    for (const [i, token] of tokens.entries()) {
      expect(token).toMatch(LEGAL);
      expect(decodeToken(token)).toBe(tricky[i]);
    }
  });

  it('keeps letters, digits and - readable and escapes everything else', () => {
    expect(encodeToken('example-biapi-PRO-42')).toBe('example-biapi-PRO-42');
    expect(encodeToken('example.biapi.pro')).toBe('example_2Ebiapi_2Epro');
    expect(encodeToken('a_b')).toBe('a_5Fb');
    expect(encodeToken('é')).toBe('_C3_A9');
    expect(encodeToken('')).toBe('_');
    expect(decodeToken('_')).toBe('');
  });

  it('round-trips any string and never yields an illegal or empty token', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 64 }), (value) => {
        const token = encodeToken(value);
        expect(token).toMatch(LEGAL);
        expect(decodeToken(token)).toBe(value);
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives different strings different tokens', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 16 }),
        fc.string({ unit: 'binary', maxLength: 16 }),
        (a, b) => {
          fc.pre(a !== b);
          expect(encodeToken(a)).not.toBe(encodeToken(b));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('decodes only the tokens it makes: each string has exactly one token', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom('_', '2', 'E', 'a', 'C', '3', 'F', '-', 'e', '8'),
          maxLength: 12,
        }),
        (token) => {
          let decoded: string;
          try {
            decoded = decodeToken(token);
          } catch (error) {
            expect(error).toBeInstanceOf(SubjectTokenError);
            return;
          }
          expect(encodeToken(decoded)).toBe(token);
        },
      ),
      { numRuns: 5_000 },
    );
    for (const bad of ['', '_2D', '_2e', '_C3', '_ZZ', '_4', 'a.b', '*', '>', '_ED_A0_80']) {
      expect(() => decodeToken(bad)).toThrow(SubjectTokenError);
    }
  });

  it('refuses a lone surrogate, which has no UTF-8 form to tell it from U+FFFD', () => {
    expect(() => encodeToken('a\ud800')).toThrow(SubjectTokenError);
    expect(encodeToken('\ufffd')).toBe('_EF_BF_BD');
  });
});

describe('subjects', () => {
  const subjects = new Subjects('teal', 'app.');

  it('gives each (prefix, exchange, key) its own literal subject of four tokens', () => {
    expect(subjects.of('callbacks', 'a.b')).toBe('teal.app_2E.callbacks.a_2Eb');
    expect(subjects.of('powens_domain_webhooks', '>')).toBe(
      'teal.app_2E.powens_domain_webhooks._3E',
    );
    expect(new Subjects('teal', '').of('callbacks', 'k')).toBe('teal._.callbacks.k');
    const prefixes = ['', 'a', 'a.', 'a_', 'a.b', '_'];
    const all = prefixes.flatMap((prefix) =>
      tricky.map((key) => new Subjects('teal', prefix).of('callbacks', key)),
    );
    expect(new Set(all).size).toBe(all.length);
    for (const subject of all) expect(subject.split('.')).toHaveLength(4);
  });

  it('reads the key back from a subject of its exchange, and nothing else', () => {
    for (const key of tricky)
      expect(subjects.keyOf('callbacks', subjects.of('callbacks', key))).toBe(key);
    expect(subjects.keyOf('openid_ciba_callbacks', subjects.of('callbacks', 'k'))).toBeUndefined();
    expect(subjects.keyOf('callbacks', 'teal.app_2E.callbacks.a.b')).toBeUndefined();
    expect(subjects.keyOf('callbacks', 'teal.app_2E.callbacks._2D')).toBeUndefined();
    expect(subjects.keyOf('callbacks', 'teal.other.callbacks.k')).toBeUndefined();
  });
});
