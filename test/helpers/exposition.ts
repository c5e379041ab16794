// The Prometheus text exposition format, read strictly: what GET /metrics and the textfiles hold.
// One parser for the suites and the bench, so a malformed line fails wherever it is read.
import assert from 'node:assert/strict';
import { type Answer, httpRequest } from './http.ts';
import { LOOPBACK } from './net.ts';
import { STEP_MS } from './timeout.ts';

/** One sample line: a series and its value. */
export interface Sample { readonly name: string; readonly labels: ReadonlyMap<string, string>; readonly value: number }

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"(?:,|$)/y;
/** Prometheus parses values with Go's strconv.ParseFloat: special values in any case (prom-client writes "Nan"). */
const SPECIAL_VALUE = /^([+-]?)(inf|infinity|nan)$/i;

function parseLabels(body: string, line: string): Map<string, string> {
  const labels = new Map<string, string>();
  LABEL_PAIR.lastIndex = 0;
  while (LABEL_PAIR.lastIndex < body.length) {
    const pair = LABEL_PAIR.exec(body);
    assert.ok(pair, `bad labels in ${JSON.stringify(line)}`);
    const [, key = '', raw = ''] = pair;
    labels.set(key, raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
  }
  return labels;
}

function parseValue(text: string, line: string): number {
  const special = SPECIAL_VALUE.exec(text);
  if (special === null) {
    const value = Number(text);
    assert.ok(!Number.isNaN(value), `bad value in ${JSON.stringify(line)}`);
    return value;
  }
  if (special[2]?.toLowerCase() === 'nan') return Number.NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

/** Parses the text exposition format strictly: any line that is not HELP, TYPE or a sample fails. */
export function parseExposition(text: string): Sample[] {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) continue;
    const match = SAMPLE_LINE.exec(line);
    assert.ok(match, `not an exposition line: ${JSON.stringify(line)}`);
    const [, name = '', body = '', valueText = ''] = match;
    samples.push({ name, labels: parseLabels(body, line), value: parseValue(valueText, line) });
  }
  return samples;
}

const matches = (sample: Sample, name: string, labels: Readonly<Record<string, string>>): boolean =>
  sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels.get(key) === value);

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function valueOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const found = samples.filter((sample) => matches(sample, name, labels));
  assert.ok(found.length <= 1, `${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** The sum over every sample of `name` whose labels include `labels` (0 when there is none). */
export function sumOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  return samples.filter((sample) => matches(sample, name, labels)).reduce((sum, sample) => sum + sample.value, 0);
}

/** GET /metrics on a connection of its own; throws unless it answers 200 within `ms`. */
export async function fetchMetrics(port: number, ms = STEP_MS, host: string = LOOPBACK.v4): Promise<Answer> {
  const answer = await httpRequest(port, '/metrics', 'GET', ms, host);
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  return answer;
}

/** GET /metrics, parsed. */
export async function scrape(port: number, ms = STEP_MS): Promise<Sample[]> {
  return parseExposition((await fetchMetrics(port, ms)).body);
}
