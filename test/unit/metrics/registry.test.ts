// The tallied histograms against prom-client's own: same observations, same exposition lines.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { Metrics, TALLY_HOOK_PRESENT, type MappingLabels } from '../../../src/metrics/registry.ts';

const LABELS: MappingLabels = { proto: 'tcp', host_ip: '127.0.0.1', host_port: '8080', container_ip: '172.17.0.2', container_port: '80' };
const OTHER: MappingLabels = { ...LABELS, host_port: '8081' };
const NAME = 'docker_proxy_backend_connect_duration_seconds';
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5];
// On the bounds (le is inclusive), between them, below the first and above the last.
const VALUES = [0, 0.00005, 0.0001, 0.0003, 0.001, 0.0049, 0.05, 0.3, 1, 4.99, 5, 7, 1e6];

let tallied = true;
function metrics(): Metrics {
  return new Metrics({ version: 'test', dataPath: () => 'splice', defaultMetricsPrefix: '', tallied });
}

/** The exposition lines of one metric family (HELP, TYPE and samples), sorted. */
function family(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(name) || line.includes(` ${name} `)).sort();
}

async function reference(observations: ReadonlyArray<readonly [MappingLabels, number]>): Promise<string[]> {
  const registry = new Registry();
  const histogram = new Histogram({
    name: NAME, help: 'Time to connect to the container, per accepted connection.',
    labelNames: Object.keys(LABELS), buckets: BUCKETS, registers: [registry],
  });
  for (const [labels, value] of observations) histogram.observe({ ...labels }, value);
  return family(await registry.metrics(), NAME);
}

it('the pinned prom-client has the hook the tallied histograms use', () => {
  assert.equal(TALLY_HOOK_PRESENT, true);
});

for (const mode of ['tallied', 'plain (the fallback without the hook)'] as const) describe(`${mode} histograms`, () => {
  before(() => {
    tallied = mode === 'tallied';
  });

  it('expose the same buckets, sum and count as a prom-client histogram', async () => {
    const m = metrics();
    const a = m.observerFor(LABELS);
    const b = m.observerFor(OTHER);
    for (const value of VALUES) a.backendConnected(value);
    b.backendConnected(0.002);
    const expected = await reference([...VALUES.map((v) => [LABELS, v] as const), [OTHER, 0.002] as const]);
    assert.deepEqual(family(await m.render(), NAME), expected);
  });

  it('have no series before the first observation, as prom-client', async () => {
    const m = metrics();
    m.observerFor(LABELS);
    assert.deepEqual(family(await m.render(), NAME), await reference([]));
    assert.equal(family(await m.render(), NAME).filter((line) => !line.startsWith('#')).length, 0);
  });

  it('the same mapping observed twice shares one series; removing the mapping drops it', async () => {
    const m = metrics();
    m.observerFor(LABELS).backendConnected(0.001);
    m.observerFor(LABELS).backendConnected(0.002);
    assert.ok(family(await m.render(), NAME).includes(`${NAME}_count{proto="tcp",host_ip="127.0.0.1",host_port="8080",container_ip="172.17.0.2",container_port="80"} 2`));
    m.remove({ labels: LABELS, snapshot: () => ({ proto: 'tcp', connectionsTotal: 0, connectionsActive: 0, bytesToContainer: 0, bytesToHost: 0, backendConnectErrors: {}, acceptErrors: {} }) });
    assert.equal(family(await m.render(), NAME).filter((line) => !line.startsWith('#')).length, 0);
  });

  it('carry the default labels of a one-mapping process', async () => {
    const m = metrics();
    m.labelEverything(LABELS);
    m.observerFor(LABELS).connectionClosed(12);
    const name = 'docker_proxy_connection_duration_seconds';
    const lines = family(await m.render(), name);
    assert.ok(lines.includes(`${name}_bucket{le="60",proto="tcp",host_ip="127.0.0.1",host_port="8080",container_ip="172.17.0.2",container_port="80"} 1`), lines.join('\n'));
    assert.ok(lines.includes(`${name}_sum{proto="tcp",host_ip="127.0.0.1",host_port="8080",container_ip="172.17.0.2",container_port="80"} 12`));
  });
});
