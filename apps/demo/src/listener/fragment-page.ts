import { createHash } from 'node:crypto';

// Browsers never send the fragment: this script forwards the whole URL to /raw-callback.
const SCRIPT = "location.replace('raw-callback?full_url='+encodeURIComponent(location.href));";

const SCRIPT_HASH = createHash('sha256').update(SCRIPT).digest('base64');

/** The tiny page `/callback` answers when the state is not in the query. */
export const FRAGMENT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Continuing…</title></head>
<body><p>Continuing the sign-in…</p>
<noscript>This sign-in needs JavaScript to finish.</noscript>
<script>${SCRIPT}</script></body></html>
`;

/** Lets the page run its one inline script and nothing else. */
export const FRAGMENT_PAGE_CSP = `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
