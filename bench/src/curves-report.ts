import { type Chart, lineChart } from './charts';
import { BIND_BATCH, type Curve, type CurveName } from './curves';
import { type GrowthRule, growthOf, type Point } from './growth';
import { bytes, format } from './report';
import { FULL } from './scenarios';

/** How one curve is drawn and how the growth under it is stated. */
interface CurveSpec {
  readonly name: CurveName;
  readonly title: string;
  /** How the points are measured, said above the chart. */
  readonly how: string;
  readonly xLabel: string;
  readonly yLabel: string;
  formatX(x: number): string;
  formatY(y: number): string;
  /** The cost whose growth is stated: the figure itself, or the time per message of a rate. */
  cost(y: number): number;
  formatCost(cost: number): string;
  /** The linear slope is stated per this much x … */
  readonly slopePer: number;
  /** … named so: "1,000 bindings". */
  readonly slopeUnit: string;
  readonly rule: GrowthRule;
}

const count = (x: number) => x.toLocaleString('en');
const list = (items: readonly string[]) =>
  items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
const micros = (us: number) =>
  Math.abs(us) >= 1000 ? `${format(us / 1000)} ms` : `${format(us)} µs`;
const mebibytes = (mib: number) =>
  Math.abs(mib) >= 1 ? `${format(mib)} MiB` : `${format(mib * 1024)} KiB`;
const perMessage = (rate: number) => 1e6 / rate;

/** Flat within ±25 %: latencies and rates on a loaded two-core machine move that much. */
const NOISE: GrowthRule = { tolerance: 0.25, floor: 0 };

export const CURVE_SPECS: readonly CurveSpec[] = [
  {
    name: 'bindings-p50',
    title: 'p50 send → callback latency vs bindings on one handler',
    how: `One handler bound to ${list(FULL.curves.bindings.map(count))} keys in turn (${BIND_BATCH} binds in flight); at each point, the p50 of ${count(FULL.bindingProbes)} sequential awaited send → callback round trips on keys drawn among them, timed after as many untimed ones.`,
    xLabel: 'bindings on the receiving handler',
    yLabel: 'p50 latency (µs)',
    formatX: count,
    formatY: count,
    cost: (y) => y,
    formatCost: micros,
    slopePer: 1_000,
    slopeUnit: '1,000 bindings',
    rule: NOISE,
  },
  {
    name: 'bindings-heap',
    title: 'Heap held vs bindings on one handler',
    how: 'The same handler: the heap in use after a full collection, minus the heap before its first binding.',
    xLabel: 'bindings on the receiving handler',
    yLabel: 'heap after GC, above the unbound handler (MiB)',
    formatX: count,
    formatY: (y) => Number(y.toPrecision(3)).toLocaleString('en'),
    cost: (y) => y,
    formatCost: mebibytes,
    slopePer: 1_000,
    slopeUnit: '1,000 bindings',
    // Under 1 MiB of difference is the collector's noise, not bindings.
    rule: { tolerance: 0.25, floor: 1 },
  },
  {
    name: 'handlers',
    title: 'Throughput vs handlers in one process',
    how: `${list(FULL.curves.handlers.map(count))} handlers in one process, each bound to a key of its own; one sender pipelines ${count(FULL.curves.handlerMessages)} callbacks (${FULL.inFlight} in flight) spread over their keys; the median of ${FULL.curves.repeats} measures per point.`,
    xLabel: 'handlers, each bound to a key of its own',
    yLabel: 'messages delivered per second',
    formatX: count,
    formatY: count,
    cost: perMessage,
    formatCost: micros,
    slopePer: 1,
    slopeUnit: 'handler',
    rule: NOISE,
  },
  {
    name: 'payload',
    title: 'Throughput vs payload size',
    how: `Powens webhooks of ${list(FULL.curves.payloadBytes.map(bytes))}, 16 in flight, about ${bytes(FULL.curves.payloadBudget)} per size (${count(FULL.curves.payloadCount[0])} to ${count(FULL.curves.payloadCount[1])} messages).`,
    xLabel: 'Powens webhook payload',
    yLabel: 'messages delivered per second',
    formatX: bytes,
    formatY: count,
    cost: perMessage,
    formatCost: micros,
    slopePer: 2 ** 20,
    slopeUnit: 'MiB of payload',
    rule: NOISE,
  },
];

/** The file of a curve's chart, relative to the repository root. */
export const chartPath = (name: CurveName) => `bench/charts/${name}.svg`;

/** Each curve's chart (SVG text), with every target that has it as one series. */
export function curveCharts(curves: readonly Curve[]): Map<CurveName, string> {
  const targets = [...new Set(curves.map((c) => c.target))];
  const charts = new Map<CurveName, string>();
  for (const spec of CURVE_SPECS) {
    const series = targets.flatMap((target) => {
      const curve = curves.find((c) => c.target === target && c.curve === spec.name);
      return curve === undefined ? [] : [{ name: target, points: curve.points }];
    });
    if (series.length === 0) continue;
    const { title, xLabel, yLabel, formatX, formatY } = spec;
    const chart: Chart = { title, xLabel, yLabel, formatX, formatY, series };
    charts.set(spec.name, lineChart(chart));
  }
  return charts;
}

/** The section of BENCHMARKS.md with the charts and the growth stated under each. */
export function curvesMarkdown(curves: readonly Curve[]): string[] {
  if (curves.length === 0) return [];
  const lines = [
    '## How cost grows',
    '',
    'Each adapter alone (no raw client), one measure per point, charts in `bench/charts/`. Under',
    'each chart, the growth of the cost (the figure itself, or the time per message of a rate):',
    'flat when every point lies within ±25 % of their median; otherwise the closer least-squares',
    'fit of `a + b·x` (linear) and `a + b·log10 x` (logarithmic), with its slope.',
    '',
  ];
  for (const spec of CURVE_SPECS) {
    const mine = curves.filter((c) => c.curve === spec.name);
    if (mine.length === 0) continue;
    lines.push(
      `### ${spec.title}`,
      '',
      spec.how,
      '',
      `![${spec.title}](${chartPath(spec.name)})`,
      '',
    );
    for (const curve of mine) lines.push(`- ${curve.target}: ${growthLine(spec, curve)}`);
    lines.push('');
  }
  return lines;
}

function growthLine(spec: CurveSpec, curve: Curve): string {
  const costs: Point[] = curve.points.map(([x, y]) => [x, spec.cost(y)]);
  const first = costs[0];
  const last = costs.at(-1);
  if (first === undefined || last === undefined) return 'no points';
  const fit = growthOf(costs, spec.rule);
  const range = `${spec.formatCost(first[1])} at ${spec.formatX(first[0])} → ${spec.formatCost(last[1])} at ${spec.formatX(last[0])}`;
  const note = curve.note === undefined ? '' : ` (${curve.note})`;
  switch (fit.kind) {
    case 'linear':
      return `linear, ${range}: +${spec.formatCost(fit.slope * spec.slopePer)} per ${spec.slopeUnit}${note}`;
    case 'logarithmic':
      return `logarithmic, ${range}: +${spec.formatCost(fit.slope)} per tenfold${note}`;
    case 'undetermined':
      return `${range}; two points cannot tell linear from logarithmic${note}`;
    default:
      return `${fit.kind}, ${range}${note}`;
  }
}
