import type { Point } from './growth';

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
}

export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Every series, in a fixed order so that each keeps its colour from chart to chart. */
  readonly series: readonly Series[];
  formatX(x: number): string;
  formatY(y: number): string;
}

const WIDTH = 720;
const HEIGHT = 380;
const PLOT = { left: 78, right: 560, top: 40, bottom: 320 };
const COLOURS = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#9d755d'];

/**
 * A line chart as SVG text: x on a log scale (the curves' points are
 * decades apart); y on a log scale when every value is positive and they
 * span more than ×30, linear from zero otherwise. Hand-written rather than
 * a charting library: a few dozen lines, no browser, and the same output
 * for the same data, so a rerun with unchanged figures leaves no diff.
 */
export function lineChart(chart: Chart): string {
  const points = chart.series.flatMap((s) => s.points).filter(([x, y]) => isDrawable(x, y));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  if (points.length === 0) return frame(chart, ['<text x="300" y="180">no data</text>']);
  const x = logScale(Math.min(...xs), Math.max(...xs), PLOT.left, PLOT.right);
  const minY = Math.min(...ys);
  const maxY = Math.max(...ys);
  const y =
    minY > 0 && maxY / minY > 30
      ? logScale(minY, maxY, PLOT.bottom, PLOT.top)
      : linearScale(Math.min(0, minY), maxY, PLOT.bottom, PLOT.top);
  const parts: string[] = [];
  for (const tick of [...new Set(xs)].sort((a, b) => a - b)) {
    const at = round(x.at(tick));
    parts.push(
      `<line x1="${at}" y1="${PLOT.top}" x2="${at}" y2="${PLOT.bottom}" class="grid"/>`,
      `<text x="${at}" y="${PLOT.bottom + 16}" text-anchor="middle">${escapeXml(chart.formatX(tick))}</text>`,
    );
  }
  for (const tick of y.ticks) {
    const at = round(y.at(tick));
    parts.push(
      `<line x1="${PLOT.left}" y1="${at}" x2="${PLOT.right}" y2="${at}" class="grid"/>`,
      `<text x="${PLOT.left - 6}" y="${at + 4}" text-anchor="end">${escapeXml(chart.formatY(tick))}</text>`,
    );
  }
  chart.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const drawn = series.points.filter(([px, py]) => isDrawable(px, py));
    const path = drawn.map(([px, py]) => `${round(x.at(px))},${round(y.at(py))}`).join(' ');
    if (drawn.length > 1) {
      parts.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
    for (const [px, py] of drawn) {
      parts.push(
        `<circle cx="${round(x.at(px))}" cy="${round(y.at(py))}" r="3" fill="${colour}"/>`,
      );
    }
    const legendY = PLOT.top + 8 + index * 20;
    parts.push(
      `<rect x="${PLOT.right + 16}" y="${legendY - 8}" width="12" height="12" fill="${colour}"/>`,
      `<text x="${PLOT.right + 34}" y="${legendY + 2}">${escapeXml(series.name)}</text>`,
    );
  });
  return frame(chart, parts);
}

function frame(chart: Chart, parts: readonly string[]): string {
  const middleX = (PLOT.left + PLOT.right) / 2;
  const middleY = (PLOT.top + PLOT.bottom) / 2;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(chart.title)}</title>`,
    '<style>.grid{stroke:#ddd;stroke-width:1}text{fill:#333}</style>',
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${middleX}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`,
    `<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#999"/>`,
    ...parts,
    `<text x="${middleX}" y="${PLOT.bottom + 40}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text transform="translate(18 ${middleY}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

interface Scale {
  at(value: number): number;
  readonly ticks: readonly number[];
}

function logScale(min: number, max: number, from: number, to: number): Scale {
  const low = Math.log10(min);
  const span = Math.log10(max) - low || 1;
  const ticks: number[] = [];
  for (let power = Math.floor(low); power <= Math.ceil(Math.log10(max)); power++) {
    for (const step of [1, 2, 5]) {
      const tick = step * 10 ** power;
      if (tick >= min * 0.999 && tick <= max * 1.001) ticks.push(tick);
    }
  }
  return { at: (value) => from + ((Math.log10(value) - low) / span) * (to - from), ticks };
}

function linearScale(min: number, max: number, from: number, to: number): Scale {
  const step = niceStep((max - min) / 5 || 1);
  // The domain starts at the lowest value (zero or below) and ends at the next tick above the highest.
  const high = Math.ceil(max / step) * step || step;
  const ticks: number[] = [];
  for (let tick = Math.ceil(min / step) * step; tick <= high + step / 2; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
  }
  return { at: (value) => from + ((value - min) / (high - min)) * (to - from), ticks };
}

/** 1, 2 or 5 times a power of ten, the nearest above `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
}

function isDrawable(x: number, y: number): boolean {
  return x > 0 && Number.isFinite(x) && Number.isFinite(y);
}

const round = (value: number) => Math.round(value * 10) / 10;

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
