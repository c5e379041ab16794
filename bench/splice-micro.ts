// Quick A/B of the TCP data paths, to pick the splice pipe size and pool size (not a full benchmark).
//   node --import tsx bench/splice-micro.ts [--seconds 4] [--rounds 3] [--only bulk,conns,keepalive]
//        [--baseline DIR]          (positional [seconds] [rounds] work too)
// bulk: iperf3 client -> proxy (a child process running one relay) -> iperf3 server, all on
//   127.0.0.1: throughput and proxy CPU-seconds per GiB (utime+stime from /proc/PID/stat).
// conns: proxy CPU per short connection (64 B echo), with and without a pipe pool.
// keepalive: 64 persistent connections each doing 100 B request -> 700 B response in turn (the
//   shape of HTTP keep-alive): requests/s and proxy CPU per request.
// --baseline DIR: another built checkout of this repo (its build/Release/splice.node and src/); its
//   splice variants run next to ours, alternating round by round, so that one run compares the two.
// Medians of alternating rounds; the machine is shared, so compare only figures of the same run.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { configureSplice, spliceAvailable, startSpliceRelay } from '../src/proxy/tcp/splice-relay.js';
import { startStreamRelay } from '../src/proxy/tcp/stream-relay.js';
import { osChosenPort } from '../test/helpers/ports.ts';
import { median } from '../test/helpers/stats.ts';

const HOST = '127.0.0.1';
const KiB = 1024;

interface Variant {
  readonly label: string;
  readonly relay: 'stream' | 'splice';
  readonly pipeSize: number;
  readonly poolSize: number;
  /** A checkout whose bench/splice-micro.ts runs the proxy child; undefined: this one. */
  readonly root?: string;
}

const OWN_SCRIPT = new URL(import.meta.url).pathname;

/** Child mode: `proxy <relay> <pipeSize> <poolSize> <backendPort>`; prints its port on stdout. */
function runProxy(args: string[]): void {
  const [relay, pipeSize, poolSize, backendPort] = args;
  if (relay === 'splice') {
    const available = spliceAvailable();
    if (!available.ok) throw new Error(available.reason);
    configureSplice({ pipeSizeBytes: Number(pipeSize), poolSize: Number(poolSize) });
  }
  const start = relay === 'splice' ? startSpliceRelay : startStreamRelay;
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (client) => {
    client.on('error', () => {});
    const backend = net.connect({ host: HOST, port: Number(backendPort), allowHalfOpen: true, noDelay: true });
    backend.pause();
    backend.once('error', () => client.destroy());
    backend.once('connect', () => {
      backend.removeAllListeners('error');
      start(client, backend);
    });
  });
  server.listen(0, HOST, () => {
    const address = server.address();
    process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`);
  });
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the full line, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function startProxyChild(variant: Variant, backendPort: number): Promise<{ child: ChildProcess; port: number }> {
  const script = variant.root === undefined ? OWN_SCRIPT : join(variant.root, 'bench', 'splice-micro.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, 'proxy',
    variant.relay, String(variant.pipeSize), String(variant.poolSize), String(backendPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stdout = child.stdout;
  if (stdout === null) throw new Error('no stdout');
  const [line] = await once(stdout, 'data');
  return { child, port: Number(String(line).trim()) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

function numberAt(value: unknown, ...path: string[]): number {
  let at: unknown = value;
  for (const key of path) at = typeof at === 'object' && at !== null ? Reflect.get(at, key) : undefined;
  return typeof at === 'number' ? at : Number.NaN;
}

async function iperfRound(variant: Variant, serverPort: number, seconds: number): Promise<{ gbps: number; cpuPerGiB: number }> {
  const { child, port } = await startProxyChild(variant, serverPort);
  const pid = child.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  const { stdout } = await promisify(execFile)('iperf3', ['-c', HOST, '-p', String(port), '-t', String(seconds), '-J'],
    { maxBuffer: 64 * 1024 * 1024 });
  const cpu = cpuSeconds(pid) - cpuBefore;
  await stopChild(child);
  const report: unknown = JSON.parse(stdout);
  const bytes = numberAt(report, 'end', 'sum_received', 'bytes');
  const bits = numberAt(report, 'end', 'sum_received', 'bits_per_second');
  return { gbps: bits / 1e9, cpuPerGiB: cpu / (bytes / 2 ** 30) };
}

async function connectionRound(variant: Variant, echoPort: number, total: number, parallel: number): Promise<number> {
  const { child, port } = await startProxyChild(variant, echoPort);
  const pid = child.pid ?? 0;
  const cpuBefore = cpuSeconds(pid);
  let next = 0;
  const worker = async (): Promise<void> => {
    const payload = Buffer.alloc(64, 7);
    while (next < total) {
      next += 1;
      const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
      let got = 0;
      socket.on('data', (chunk: Buffer) => (got += chunk.length));
      socket.end(payload);
      await once(socket, 'close');
      if (got !== payload.length) throw new Error(`echo returned ${got} bytes`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const cpu = cpuSeconds(pid) - cpuBefore;
  await stopChild(child);
  return (cpu / total) * 1e6;
}

const REQUEST_BYTES = 100;
const RESPONSE_BYTES = 700;

/** Backend of the keep-alive load: a RESPONSE_BYTES reply to every REQUEST_BYTES received. */
async function startResponder(): Promise<{ server: net.Server; port: number }> {
  const response = Buffer.alloc(RESPONSE_BYTES, 'r');
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {});
    let buffered = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.length;
      for (; buffered >= REQUEST_BYTES; buffered -= REQUEST_BYTES) socket.write(response);
    });
  });
  server.listen(0, HOST);
  await once(server, 'listening');
  return { server, port: Number(Reflect.get(Object(server.address()), 'port')) };
}

async function keepAliveRound(variant: Variant, backendPort: number, seconds: number, connections: number):
  Promise<{ rps: number; cpuUsPerRequest: number }> {
  const { child, port } = await startProxyChild(variant, backendPort);
  const pid = child.pid ?? 0;
  const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  })));
  const request = Buffer.alloc(REQUEST_BYTES, 'q');
  let requests = 0;
  let running = true;
  const finished = sockets.map((socket) => new Promise<void>((resolve) => {
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got < RESPONSE_BYTES) return;
      got -= RESPONSE_BYTES;
      requests += 1;
      if (running) socket.write(request);
      else resolve();
    });
    socket.write(request);
  }));
  // Warm up for a fifth of the time, then count.
  await new Promise((resolve) => setTimeout(resolve, (seconds * 1000) / 5));
  const cpuBefore = cpuSeconds(pid);
  const countBefore = requests;
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = cpuSeconds(pid) - cpuBefore;
  const counted = requests - countBefore;
  const elapsed = (performance.now() - startedAt) / 1000;
  running = false;
  await Promise.all(finished);
  for (const socket of sockets) socket.destroy();
  await stopChild(child);
  return { rps: counted / elapsed, cpuUsPerRequest: (cpu / counted) * 1e6 };
}

/** The tables print NaN for a variant with no finished round. */
const medianOrNaN = (values: number[]): number => median(values) ?? Number.NaN;

/** Rounds alternate: even rounds run the variants in order, odd rounds in reverse. */
function inTurn<T>(variants: readonly T[], round: number): readonly T[] {
  return round % 2 === 0 ? variants : [...variants].reverse();
}

interface Options {
  readonly seconds: number;
  readonly rounds: number;
  readonly parts: ReadonlySet<string>;
  readonly baseline: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      baseline: { type: 'string' },
    },
  });
  const baseline = values.baseline === undefined ? undefined : resolve(values.baseline);
  if (baseline !== undefined && !existsSync(join(baseline, 'build', 'Release', 'splice.node'))) {
    throw new Error(`--baseline ${baseline}: no build/Release/splice.node there (build it first)`);
  }
  return {
    seconds: Number(values.seconds ?? positionals[0] ?? 4),
    rounds: Number(values.rounds ?? positionals[1] ?? 3),
    parts: new Set((values.only ?? 'bulk,conns,keepalive').split(',')),
    baseline,
  };
}

/** With a baseline: each splice variant of ours, preceded by the same variant of the baseline. */
function withBaseline(variants: readonly Variant[], baseline: string | undefined): Variant[] {
  if (baseline === undefined) return [...variants];
  return variants.flatMap((variant) => variant.relay === 'splice'
    ? [{ ...variant, label: `baseline ${variant.label}`, root: baseline }, variant]
    : [variant]);
}

async function main(): Promise<void> {
  const { seconds, rounds, parts, baseline } = parseOptions(process.argv.slice(2));
  if (baseline !== undefined) console.log(`baseline: ${baseline}`);
  if (parts.has('bulk')) await bulk(seconds, rounds, baseline);
  if (parts.has('conns')) await shortConnections(rounds, baseline);
  if (parts.has('keepalive')) await keepAlive(seconds, rounds, baseline);
}

async function bulk(seconds: number, rounds: number, baseline: string | undefined): Promise<void> {
  const serverPort = await osChosenPort('tcp', HOST);
  const server = spawn('iperf3', ['-s', '-p', String(serverPort)], { stdio: 'ignore' });
  await waitForPort(serverPort);
  const variants = withBaseline(baseline === undefined
    ? [
      { label: 'stream (pipe)', relay: 'stream', pipeSize: 0, poolSize: 0 },
      { label: 'splice 64 KiB', relay: 'splice', pipeSize: 64 * KiB, poolSize: 16 },
      { label: 'splice 256 KiB', relay: 'splice', pipeSize: 256 * KiB, poolSize: 16 },
      { label: 'splice 1 MiB', relay: 'splice', pipeSize: 1024 * KiB, poolSize: 16 },
    ]
    : [{ label: 'splice 1 MiB', relay: 'splice', pipeSize: 1024 * KiB, poolSize: 16 }], baseline);
  const results = new Map<string, { gbps: number[]; cpu: number[] }>(variants.map((v) => [v.label, { gbps: [], cpu: [] }]));
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of inTurn(variants, round)) {
      const { gbps, cpuPerGiB } = await iperfRound(variant, serverPort, seconds);
      results.get(variant.label)?.gbps.push(gbps);
      results.get(variant.label)?.cpu.push(cpuPerGiB);
    }
  }
  server.kill('SIGTERM');
  console.log(`\n| data path (iperf3 -t ${seconds}, 1 stream, ${rounds} rounds) | Gbit/s median | CPU-s/GiB median | CPU-s/GiB runs |`);
  console.log('| --- | --- | --- | --- |');
  for (const [label, r] of results) {
    console.log(`| ${label} | ${medianOrNaN(r.gbps).toFixed(2)} | ${medianOrNaN(r.cpu).toFixed(3)} | ${r.cpu.map((c) => c.toFixed(3)).join(', ')} |`);
  }
}

async function shortConnections(rounds: number, baseline: string | undefined): Promise<void> {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  echo.listen(0, HOST);
  await once(echo, 'listening');
  const echoPort = Number(Reflect.get(Object(echo.address()), 'port'));
  const short = withBaseline([
    { label: 'stream', relay: 'stream', pipeSize: 0, poolSize: 0 },
    { label: 'splice 1 MiB, no pool', relay: 'splice', pipeSize: 1024 * KiB, poolSize: 0 },
    { label: 'splice 1 MiB, pool 16', relay: 'splice', pipeSize: 1024 * KiB, poolSize: 16 },
  ], baseline);
  const perConnection = new Map<string, number[]>(short.map((v) => [v.label, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of inTurn(short, round)) {
      perConnection.get(variant.label)?.push(await connectionRound(variant, echoPort, 5000, 32));
    }
  }
  echo.close();
  console.log(`\n| short connections (5000, 32 parallel, 64 B echo, ${rounds} rounds) | proxy CPU µs/conn median | runs |`);
  console.log('| --- | --- | --- |');
  for (const [label, runs] of perConnection) {
    console.log(`| ${label} | ${medianOrNaN(runs).toFixed(1)} | ${runs.map((c) => c.toFixed(1)).join(', ')} |`);
  }
}

async function keepAlive(seconds: number, rounds: number, baseline: string | undefined): Promise<void> {
  const connections = 64;
  const responder = await startResponder();
  const variants = withBaseline([
    { label: 'stream', relay: 'stream', pipeSize: 0, poolSize: 0 },
    { label: 'splice 1 MiB, pool 16', relay: 'splice', pipeSize: 1024 * KiB, poolSize: 16 },
  ], baseline);
  const results = new Map<string, { rps: number[]; cpu: number[] }>(variants.map((v) => [v.label, { rps: [], cpu: [] }]));
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of inTurn(variants, round)) {
      const { rps, cpuUsPerRequest } = await keepAliveRound(variant, responder.port, seconds, connections);
      results.get(variant.label)?.rps.push(rps);
      results.get(variant.label)?.cpu.push(cpuUsPerRequest);
    }
  }
  responder.server.close();
  console.log(`\n| keep-alive (${connections} connections, ${REQUEST_BYTES} B request -> ${RESPONSE_BYTES} B response, ${seconds} s, ${rounds} rounds) | requests/s median | proxy CPU µs/request median | requests/s runs | CPU runs |`);
  console.log('| --- | --- | --- | --- | --- |');
  for (const [label, r] of results) {
    console.log(`| ${label} | ${medianOrNaN(r.rps).toFixed(0)} | ${medianOrNaN(r.cpu).toFixed(2)} | ${r.rps.map((c) => c.toFixed(0)).join(', ')} | ${r.cpu.map((c) => c.toFixed(2)).join(', ')} |`);
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const socket = net.connect({ host: HOST, port });
    const ok = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`iperf3 server did not listen on ${port}`);
}

if (process.argv[2] === 'proxy') runProxy(process.argv.slice(3));
else await main();
