/** The element of this id; the page is static, so a missing one is a bug. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Makes an element with text content (never HTML: every value shown comes from outside). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = '',
  className = '',
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  created.textContent = text;
  if (className !== '') created.className = className;
  return created;
}

/** A `term: value` line for an event's details. */
export function detail(term: string, value: string): HTMLDivElement {
  const line = element('div', '', 'detail');
  line.append(element('span', term, 'term'), element('code', value));
  return line;
}

/** A random URL-safe token of `bytes` random bytes. */
export function randomToken(bytes = 16): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...random))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replaceAll('=', '');
}

/** The time of day of an instant, for event lists. */
export function timeOf(date: Date): string {
  return date.toLocaleTimeString(undefined, { hour12: false });
}
