/** Parses the `full_url` of `/raw-callback`: an absolute URL, or `null`. */
export function parseFullUrl(text: string): URL | null {
  try {
    return new URL(text);
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
