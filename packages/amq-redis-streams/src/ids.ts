/** Orders two stream entry ids (`<ms>-<seq>`): negative, zero or positive. */
export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  // Called for every entry read: compare in place, without splitting.
  const aDash = a.indexOf('-');
  const bDash = b.indexOf('-');
  const aMs = aDash < 0 ? a.length : aDash;
  const bMs = bDash < 0 ? b.length : bDash;
  if (aMs !== bMs) return aMs - bMs;
  for (let i = 0; i < aMs; i++) {
    const diff = a.charCodeAt(i) - b.charCodeAt(i);
    if (diff !== 0) return diff;
  }
  const aSeq = aDash < 0 ? 0 : a.length - aDash - 1;
  const bSeq = bDash < 0 ? 0 : b.length - bDash - 1;
  if (aSeq !== bSeq) return aSeq - bSeq;
  for (let i = 1; i <= aSeq; i++) {
    const diff = a.charCodeAt(aDash + i) - b.charCodeAt(bDash + i);
    if (diff !== 0) return diff;
  }
  return 0;
}
