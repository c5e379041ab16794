// Smoke test of the benchmark suite (not part of npm test): one quick round of the TCP bulk
// scenario, ours against no proxy, into a temp dir; the report files must exist and hold
// positive figures. Needs iperf3 (installed by the runner when missing) and a built dist/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');

function medianOf(json: unknown, candidate: string, metric: string): unknown {
  if (typeof json !== 'object' || json === null) return undefined;
  const scenarios: unknown = Reflect.get(json, 'scenarios');
  if (!Array.isArray(scenarios)) return undefined;
  const bulk: unknown = scenarios.find((each: unknown) => typeof each === 'object' && each !== null && Reflect.get(each, 'name') === 'tcp-bulk');
  if (typeof bulk !== 'object' || bulk === null) return undefined;
  const medians: unknown = Reflect.get(bulk, 'medians');
  const ofCandidate: unknown = typeof medians === 'object' && medians !== null ? Reflect.get(medians, candidate) : undefined;
  return typeof ofCandidate === 'object' && ofCandidate !== null ? Reflect.get(ofCandidate, metric) : undefined;
}

describe('bench quick mode', () => {
  it('runs tcp-bulk for ours-stream and direct and writes the report', { timeout: 180_000 }, () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), '--quick', '--rounds', '1',
        '--seconds', '1', '--scenarios', 'tcp-bulk', '--candidates', 'ours-stream,direct', '--out', out],
      { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
      assert.equal(run.status, 0, `bench failed:\n${run.stderr}`);
      assert.match(run.stderr, /verify ours-stream tcp: echo intact/);
      assert.match(run.stderr, /tcp-bulk round 1\/1 ours-stream: gbps_p1=/);
      for (const file of ['latest.json', 'latest.md', 'tcp-bulk.svg']) assert.ok(existsSync(join(out, file)), `${file} missing`);
      const json: unknown = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
      for (const [candidate, metric] of [['ours-stream', 'gbps_p1'], ['ours-stream', 'gbps_p8'], ['ours-stream', 'cpu_per_gib_p1'], ['direct', 'gbps_p1']]) {
        const value = medianOf(json, candidate ?? '', metric ?? '');
        assert.ok(typeof value === 'number' && value > 0, `${candidate} ${metric} = ${String(value)}`);
      }
      const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
      assert.match(markdown, /\| ours-stream \| [\d,.]+ \| [\d,.]+ \| [\d,.]+ \| [\d,.]+ \| 1\/1 \|/);
      assert.match(markdown, /Machine: nproc \d+/);
      assert.match(readFileSync(join(out, 'tcp-bulk.svg'), 'utf8'), /^<svg [^>]*>[\s\S]*<rect [\s\S]*<\/svg>\n$/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
