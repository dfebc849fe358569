import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuplicateFilter, REORDER_WINDOW } from '../src/consumer-dedupe';

describe('duplicate filter', () => {
  it('drops the writes a reconnect resent, and nothing else', () => {
    const filter = new DuplicateFilter(60_000);
    // 1..7 applied, 5..7 applied but unanswered, so resent with 8..10.
    const stream = [1, 2, 3, 4, 5, 6, 7, 5, 6, 7, 8, 9, 10];
    const passed = stream.filter((sequence) => !filter.isDuplicate('s', 'p', sequence, 0));
    expect(passed).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('lets a late write through, once', () => {
    const filter = new DuplicateFilter(60_000);
    const passed = [1, 2, 4, 5, 3, 3, 6].filter(
      (sequence) => !filter.isDuplicate('s', 'p', sequence, 0),
    );
    expect(passed).toEqual([1, 2, 4, 5, 3, 6]);
  });

  it('keeps streams and producers apart', () => {
    const filter = new DuplicateFilter(60_000);
    expect(filter.isDuplicate('s1', 'p', 1, 0)).toBe(false);
    expect(filter.isDuplicate('s2', 'p', 1, 0)).toBe(false);
    expect(filter.isDuplicate('s1', 'q', 1, 0)).toBe(false);
    expect(filter.isDuplicate('s1', 'p', 1, 0)).toBe(true);
  });

  it('stays bounded over a long run and still tells repeats within the window', () => {
    const filter = new DuplicateFilter(60_000);
    for (let sequence = 1; sequence <= 100_000; sequence++)
      filter.isDuplicate('s', 'p', sequence, 0);
    expect(filter.isDuplicate('s', 'p', 100_000 - REORDER_WINDOW + 10, 0)).toBe(true);
    expect(filter.isDuplicate('s', 'p', 1, 0)).toBe(true);
    expect(filter.isDuplicate('s', 'p', 100_001, 0)).toBe(false);
  });

  it('forgets producers silent for longer than its window', () => {
    const filter = new DuplicateFilter(1_000);
    expect(filter.isDuplicate('s', 'p', 5, 0)).toBe(false);
    filter.prune(5_000);
    // Forgotten: the same sequence now reads as new.
    expect(filter.isDuplicate('s', 'p', 5, 5_000)).toBe(false);
  });

  it('answers as the window rule says on any order of writes: every sequence it saw, and the bits it reuses', () => {
    // The rule, kept plainly: a sequence above the highest is new; one a window or more
    // below it is taken for a repeat; one within the window is a repeat once seen.
    const model = () => {
      const seen = new Set<number>();
      let highest = 0;
      return (sequence: number) => {
        const isRepeat =
          sequence <= highest && (sequence <= highest - REORDER_WINDOW || seen.has(sequence));
        seen.add(sequence);
        highest = Math.max(highest, sequence);
        return isRepeat;
      };
    };
    // Runs mostly forward, skipping a few, with resends, late writes and jumps to the window's edge and past it.
    const step = fc.oneof(
      { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 40 },
      { arbitrary: fc.integer({ min: -REORDER_WINDOW - 5, max: 0 }), weight: 4 },
      { arbitrary: fc.integer({ min: REORDER_WINDOW - 5, max: REORDER_WINDOW + 5 }), weight: 1 },
      { arbitrary: fc.integer({ min: REORDER_WINDOW, max: 3 * REORDER_WINDOW }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 2_000, maxLength: 3_000 }), (steps) => {
        const filter = new DuplicateFilter(60_000);
        const expected = model();
        let sequence = REORDER_WINDOW * 4;
        for (const delta of steps) {
          sequence = Math.max(1, sequence + delta);
          expect(filter.isDuplicate('s', 'p', sequence, 0)).toBe(expected(sequence));
        }
      }),
      { numRuns: 30 },
    );
  });
});
