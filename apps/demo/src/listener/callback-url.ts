/**
 * Parses the `full_url` of `/raw-callback`: an absolute `http:` or `https:`
 * URL of the listener's own public origin (the only URLs its fragment page
 * builds), or `null`. Anything else (`javascript:`, `data:`, `file:`,
 * another site) would travel as the message's `url` to applications that may
 * render it.
 */
export function parseFullUrl(text: string, origin: string): URL | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.origin === originOf(origin) ? url : null;
}

/** The origin of a URL, normalised (case, default port), or `null`. */
export function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * The OAuth2 `state` of a callback URL: from its query, from a query that
 * some providers start with `&` instead of `?` (`/callback&state=a&code=b`),
 * or from its fragment. `null` when there is none.
 */
export function callbackStateOf(url: URL): string | null {
  const candidates = [url.search.slice(1)];
  const ampersand = url.pathname.indexOf('&');
  if (ampersand >= 0) candidates.push(url.pathname.slice(ampersand + 1));
  candidates.push(url.hash.slice(1));
  for (const query of candidates) {
    const state = new URLSearchParams(query).get('state');
    if (state) return state;
  }
  return null;
}
