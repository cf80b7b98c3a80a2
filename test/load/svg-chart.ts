/**
 * Line charts as inline SVG: no script, no stylesheet or font from elsewhere, so the
 * report is one file that opens anywhere.
 */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly dashed?: boolean;
  /** One value per x (second); NaN leaves a gap. */
  readonly values: readonly number[];
}

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly series: readonly Series[];
  /** A shaded span, e.g. the measured window, in x units. */
  readonly band?: { readonly from: number; readonly to: number; readonly label: string };
}

const WIDTH = 960;
const PLOT_HEIGHT = 210;
const PAD = { left: 64, right: 16, bottom: 36 };
const LEGEND_ROW = 16;

export const escapeXml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A round step so that about `count` steps cover `max`. */
const niceStep = (max: number, count: number): number => {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
};

const label = (n: number): string =>
  n >= 10_000 ? `${n / 1000}k` : Number.isInteger(n) ? String(n) : n.toPrecision(2);

/** Legend entries laid out left to right under the title, wrapping to more rows. */
const legendLayout = (series: readonly Series[]) => {
  let x = PAD.left;
  let row = 0;
  return series.map((s) => {
    // About 6.5 px per character of an 11 px sans-serif, plus the sample line.
    const width = 30 + s.name.length * 6.5;
    if (x + width > WIDTH - PAD.right && x > PAD.left) {
      x = PAD.left;
      row++;
    }
    const at = { x, row };
    x += width + 12;
    return at;
  });
};

export const lineChart = (spec: ChartSpec): string => {
  const legend = legendLayout(spec.series);
  const rows = Math.max(0, ...legend.map((l) => l.row)) + 1;
  const top = 30 + rows * LEGEND_ROW;
  const height = top + PLOT_HEIGHT + PAD.bottom;
  const length = Math.max(1, ...spec.series.map((s) => s.values.length));
  const finite = spec.series.flatMap((s) => s.values.filter(Number.isFinite));
  const highest = Math.max(1e-9, ...finite);
  const yStep = niceStep(highest, 5);
  const yMax = Math.ceil(highest / yStep) * yStep;
  const xStep = niceStep(length, 10);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = PLOT_HEIGHT;
  const x = (i: number) => PAD.left + (i / Math.max(1, length - 1)) * plotW;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];

  parts.push(
    `<text x="${PAD.left}" y="16" class="title">${escapeXml(spec.title)} (${escapeXml(spec.unit)})</text>`,
  );
  if (spec.band !== undefined && Number.isFinite(spec.band.from)) {
    const from = x(Math.max(0, spec.band.from));
    const to = x(Math.min(length - 1, spec.band.to));
    parts.push(
      `<rect x="${from.toFixed(1)}" y="${top}" width="${Math.max(0, to - from).toFixed(1)}" height="${plotH}" class="band"/>`,
      `<text x="${(from + 4).toFixed(1)}" y="${top + 12}" class="note">${escapeXml(spec.band.label)}</text>`,
    );
  }
  for (let v = 0; v <= yMax + yStep / 2; v += yStep)
    parts.push(
      `<line x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="axis" text-anchor="end">${label(v)}</text>`,
    );
  for (let i = 0; i < length; i += xStep)
    parts.push(
      `<text x="${x(i).toFixed(1)}" y="${height - PAD.bottom + 16}" class="axis" text-anchor="middle">${label(i)}</text>`,
    );
  parts.push(
    `<text x="${WIDTH - PAD.right}" y="${height - 4}" class="axis" text-anchor="end">seconds since the load started</text>`,
  );
  for (const s of spec.series) {
    // One polyline per run of finite values: a gap is a second without data.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 0)
        parts.push(
          `<polyline data-series="${escapeXml(s.name)}" points="${run.join(" ")}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed === true ? ' stroke-dasharray="5 3"' : ""}/>`,
        );
      run = [];
    };
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) run.push(`${x(i).toFixed(1)},${y(Math.min(v, yMax)).toFixed(1)}`);
      else flush();
    });
    flush();
  }
  spec.series.forEach((s, i) => {
    const { x: lx, row } = legend[i] ?? { x: 0, row: 0 };
    const ly = 34 + row * LEGEND_ROW;
    parts.push(
      `<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5 3"' : ""}/>`,
      `<text x="${lx + 26}" y="${ly + 4}" class="axis">${escapeXml(s.name)}</text>`,
    );
  });
  return `<svg id="${escapeXml(spec.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="${escapeXml(spec.title)}">${parts.join("")}</svg>`;
};
