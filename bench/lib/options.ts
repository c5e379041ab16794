// Command line of bench/run.ts.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Candidate, isCandidate } from './candidates.ts';
import { REPO_ROOT } from './deps.ts';

export interface RunOptions {
  readonly quick: boolean;
  readonly rounds: number;
  readonly seconds: number;
  /** Scenario names to run; undefined = all. */
  readonly scenarios: readonly string[] | undefined;
  /** Candidates to run; undefined = each scenario's own list. */
  readonly candidates: readonly Candidate[] | undefined;
  readonly outDir: string;
}

export const USAGE = `usage: node --import tsx bench/run.ts [--quick] [--rounds N] [--seconds S]
       [--scenarios a,b] [--candidates a,b] [--out DIR]
  --quick       3 short rounds (whole run under 5 minutes); default is 5 rounds of 5 s
                (ours-splice vs ours-metrics then run 4× the rounds, paired)
  --rounds N    rounds per scenario (at least 1; 3 or more for a report)
  --seconds S   seconds per load run (iperf3, wrk, UDP sender), whole seconds
  --scenarios   tcp-bulk,http-keepalive,http-close,udp-pps,startup-memory,idle-wakeups,
                conn-memory,many-mappings
  --candidates  ours-splice,ours-metrics,ours-stream,go,socat,direct,bare,ours-many
  --out DIR     where latest.json, latest.md and the SVGs go (default bench/results)`;

function positiveInt(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number ≥ 1, got ${text}`);
  return value;
}

function list(text: string | undefined): string[] | undefined {
  return text === undefined ? undefined : text.split(',').map((each) => each.trim()).filter((each) => each !== '');
}

/** Parses argv (without node and the script). Throws with a message on bad input. */
export function parseOptions(argv: readonly string[]): RunOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      scenarios: { type: 'string' },
      candidates: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const quick = values.quick === true;
  const candidates = list(values.candidates);
  const unknown = candidates?.filter((name) => !isCandidate(name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown candidate(s): ${unknown.join(', ')}`);
  return {
    quick,
    rounds: positiveInt(values.rounds, quick ? 3 : 5, 'rounds'),
    seconds: positiveInt(values.seconds, quick ? 1 : 5, 'seconds'),
    scenarios: list(values.scenarios),
    candidates: candidates?.filter(isCandidate),
    outDir: values.out ?? join(REPO_ROOT, 'bench', 'results'),
  };
}
