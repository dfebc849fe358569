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
});
