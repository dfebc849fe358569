import type { LoadRow } from './results';

/** Whether every request succeeded and every success reached its socket, and only it. */
export function isClean(row: LoadRow): boolean {
  const routes = [row.callback, row.webhook];
  return (
    routes.every((route) => route.failed === 0 && route.errors === 0 && route.timeouts === 0) &&
    row.missing === 0 &&
    row.extra === 0 &&
    row.misdelivered === 0 &&
    row.socketsClosed === 0
  );
}

/** The figures per broker, one line per route, as a plain text table. */
export function formatTable(rows: readonly LoadRow[]): string {
  const header = [
    'broker',
    'route',
    'req/s',
    'p50 ms',
    'p99 ms',
    'ok',
    'failed',
    'errors',
    'delivered',
    'missing',
    'duplicates',
    'wrong socket',
    'RSS/socket',
  ];
  const lines = rows.flatMap((row) =>
    (['callback', 'webhook'] as const).map((route) => {
      const figures = row[route];
      return [
        row.broker,
        route === 'callback' ? '/callback' : '/powens-webhook',
        String(Math.round(figures.requestsPerSecond)),
        String(figures.latencyP50Ms),
        String(figures.latencyP99Ms),
        String(figures.succeeded),
        String(figures.failed),
        String(figures.errors + figures.timeouts),
        String(route === 'callback' ? row.callbacksDelivered : row.webhooksDelivered),
        route === 'callback' ? String(row.missing) : '',
        route === 'callback' ? String(row.extra) : '',
        route === 'callback' ? String(row.misdelivered) : '',
        route === 'callback' ? `${(row.bytesPerSocket / 1024).toFixed(1)} KiB` : '',
      ];
    }),
  );
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => line[column]!.length)),
  );
  return [header, ...lines]
    .map((line) => line.map((cell, column) => cell.padEnd(widths[column]!)).join('  '))
    .join('\n');
}
