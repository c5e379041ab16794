// A small SVG writer for the report: one panel per metric, one horizontal bar per candidate,
// each bar labelled with its value. No chart library: a few rects and texts are all it takes.
import { formatNumber } from './format.ts';

export interface Bar {
  readonly name: string;
  readonly value: number | undefined;
}

export interface Panel {
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly bars: readonly Bar[];
}

const WIDTH = 760;
const NAME_WIDTH = 110;
const BAR_AREA = 470;
const BAR_HEIGHT = 18;
const ROW = 24;
const HEADER = 26;
const GAP = 14;

/** Fixed colours per candidate, so that every chart reads the same way. */
const COLOURS: Readonly<Record<string, string>> = {
  'ours-splice': '#1d4ed8', 'ours-metrics': '#1e3a8a', 'ours-stream': '#60a5fa', 'ours-many': '#0891b2',
  go: '#047857', socat: '#b45309', direct: '#6b7280', bare: '#7c3aed',
};

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function text(x: number, y: number, content: string, extra = ''): string {
  return `<text x="${Number(x.toFixed(1))}" y="${y}"${extra}>${escape(content)}</text>`;
}

function panel(spec: Panel, top: number): string[] {
  const max = Math.max(0, ...spec.bars.map((bar) => bar.value ?? 0));
  const parts = [text(0, top + 16, `${spec.label} (${spec.unit}), ${spec.better} is better`, ' font-weight="bold"')];
  spec.bars.forEach((bar, i) => {
    const y = top + HEADER + i * ROW;
    const width = bar.value === undefined || max <= 0 ? 0 : Math.max(1, (Math.max(0, bar.value) / max) * BAR_AREA);
    const fill = COLOURS[bar.name] ?? '#9ca3af';
    parts.push(text(NAME_WIDTH - 8, y + 13, bar.name, ' text-anchor="end"'));
    parts.push(`<rect x="${NAME_WIDTH}" y="${y}" width="${width.toFixed(1)}" height="${BAR_HEIGHT}" fill="${fill}"/>`);
    const label = bar.value === undefined ? 'n/a' : `${formatNumber(bar.value)} ${spec.unit}`;
    parts.push(text(NAME_WIDTH + width + 6, y + 13, label));
  });
  return parts;
}

/** Height of one panel with `bars` bars. */
function panelHeight(bars: number): number {
  return HEADER + bars * ROW + GAP;
}

/** The whole chart: a title, then the panels stacked top to bottom. */
export function barChartSvg(title: string, subtitle: string, panels: readonly Panel[]): string {
  const parts: string[] = [text(0, 18, title, ' font-size="16" font-weight="bold"'), text(0, 36, subtitle, ' fill="#4b5563"')];
  let top = 48;
  for (const spec of panels) {
    parts.push(...panel(spec, top));
    top += panelHeight(spec.bars.length);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top}" viewBox="0 0 ${WIDTH} ${top}" `
    + `font-family="Helvetica, Arial, sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="#ffffff"/>\n`
    + `${parts.join('\n')}\n</svg>\n`;
}
