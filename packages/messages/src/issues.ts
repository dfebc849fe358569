import type { z } from 'zod';

/** The first issue of a failed parse as a dotted path and a reason that never quotes the value. */
export function describeIssue(
  error: z.ZodError,
  input: unknown,
): { field: string | null; reason: string } {
  const issue = error.issues[0];
  if (issue === undefined) return { field: null, reason: 'is invalid' };
  const field = issue.path.length === 0 ? null : issue.path.map(String).join('.');
  if (issue.code === 'invalid_type') {
    if (valueAt(input, issue.path) === undefined) return { field, reason: 'is required' };
    return { field, reason: `must be ${article(issue.expected)}` };
  }
  if (issue.code === 'custom' || issue.code === 'invalid_value')
    return { field, reason: issue.message };
  return { field, reason: 'is invalid' };
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function article(expected: string): string {
  if (expected === 'object') return 'a JSON object';
  if (expected === 'date') return 'a Date';
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
