// The shape pydantic 1.10 accepts for a datetime string: a date, `T` or a
// space, a time with optional seconds and fraction, and an optional offset.
const ISO_DATETIME =
  /^(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,12}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

// Python's datetime spans years 1 to 9999, and encoders write four-digit years.
const FIRST_WRITABLE_INSTANT = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_WRITABLE_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Parses an ISO 8601 datetime as the Python original writes it. A datetime
 * without an offset is UTC (`datetime.utcnow()` writes them that way).
 * Returns `null` when the text is not such a datetime; with `requireOffset`,
 * also when it has no offset.
 */
export function parseDatetime(text: string, requireOffset = false): Date | null {
  // Fast paths for what encoders write; anything else goes to the general parser below.
  if (!requireOffset && text.length === 26) {
    // Naive UTC with microseconds (`2023-06-01T12:34:56.789000`), as encoders write it.
    const date = parseWritten(text);
    if (date !== null) return date;
  } else if (text.length === 24 && text.charCodeAt(23) === 90 /* Z */) {
    // What the first encoders wrote (`2023-06-01T12:34:56.789Z`).
    const date = new Date(text);
    if (!Number.isNaN(date.getTime()) && date.toISOString() === text) return date;
  }
  const match = ISO_DATETIME.exec(text);
  if (!match) return null;
  const [, year, month, day, hour, minute, second = '0', fraction = '', offsetText] = match;
  if (requireOffset && offsetText === undefined) return null;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Year 0 does not exist for Python's datetime, which rejects it.
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return null;
  if (h > 23 || mi > 59 || s > 59) return null;
  const offset = offsetMinutes(offsetText);
  // Python's timezone() refuses offsets of a day or more.
  if (Math.abs(offset) >= 24 * 60) return null;
  const ms = fraction === '' ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offset * 60_000);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear keeps them literal.
  if (y < 100) date.setUTCFullYear(date.getUTCFullYear() - 1900);
  // An offset can push the instant out of years 1-9999, where no encoder could write it back.
  return isWritableInstant(date) ? date : null;
}

/** `-`, `T`, `:` and `.` where `YYYY-MM-DDTHH:MM:SS.ffffff` has them; digits elsewhere. */
const WRITTEN_SEPARATORS: Readonly<Record<number, number>> = {
  4: 45,
  7: 45,
  10: 84,
  13: 58,
  16: 58,
  19: 46,
};

/**
 * The instant of `YYYY-MM-DDTHH:MM:SS.mmm000`, what encoders write, read
 * digit by digit: every delivery parses one, and parsing it as a `Date`
 * string and formatting it back to compare cost a tenth of a fan-out's
 * time per callback. Null for anything else (a date that does not exist,
 * year 0, sub-millisecond digits), which the general path then judges.
 */
function parseWritten(text: string): Date | null {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  for (let index = 0; index < 26; index++) {
    const code = text.charCodeAt(index);
    const separator = WRITTEN_SEPARATORS[index];
    if (separator !== undefined) {
      if (code !== separator) return null;
      continue;
    }
    const digit = code - 48;
    if (digit < 0 || digit > 9) return null;
    if (index < 4) year = year * 10 + digit;
    else if (index < 7) month = month * 10 + digit;
    else if (index < 10) day = day * 10 + digit;
    else if (index < 13) hour = hour * 10 + digit;
    else if (index < 16) minute = minute * 10 + digit;
    else if (index < 19) second = second * 10 + digit;
    else if (index < 23) ms = ms * 10 + digit;
    else if (digit !== 0) return null;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear keeps them literal.
  if (year < 100) date.setUTCFullYear(year);
  return date;
}

/** Whether an instant lies in UTC years 1 to 9999, the range the wire format can carry. */
export function isWritableInstant(date: Date): boolean {
  const time = date.getTime();
  return time >= FIRST_WRITABLE_INSTANT && time <= LAST_WRITABLE_INSTANT;
}

/**
 * Formats an instant the way the Python original writes `datetime.utcnow()`
 * (and so the way encoders write `timestamp` and `expires_at`): naive UTC,
 * six fraction digits, no offset: `2023-06-01T12:34:56.789000`. Python code
 * subtracts `datetime.utcnow()` from such values, which raises on an aware one.
 */
export function formatDatetime(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 23)}000`;
}

/**
 * Formats an instant with its offset, as pydantic writes an aware datetime
 * (`2023-06-01T12:34:56.789000+00:00`): how encoders write `signature_date`.
 * A `Date` holds no offset, so it is always written in UTC.
 */
export function formatAwareDatetime(date: Date): string {
  return `${formatDatetime(date)}+00:00`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function offsetMinutes(offset: string | undefined): number {
  if (offset === undefined || offset.toUpperCase() === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
}
