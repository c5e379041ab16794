// The composition root and the only owner of the process contract with dockerd: argv, the status
// pipe on fd 3, the socket on fd 4 (through src/proxy/listen.ts), signals and the exit status.
import { writeSync } from 'node:fs';
import { parseCommandLine } from './cli/command-line.js';
import { describeMapping, type ProxyConfig } from './config.js';
import { ProxyError, describeError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { changesUser, giveUpPrivileges, readBack, type PrivilegeReport } from './privileges/give-up.js';
import { assertReachable } from './privileges/reachable.js';
import { startService, type Service } from './service.js';
import { openStatusPipe, type StatusPipe } from './status-pipe.js';
import { versionLine } from './version.js';

/** Writes to stdout/stderr synchronously, so that nothing is lost when we exit right after. */
function print(fd: 1 | 2, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // dockerd gives us /dev/null; a closed descriptor is no reason to fail.
  }
}

function fail(status: StatusPipe, message: string): never {
  status.reportFailure(message);
  print(2, `${message}\n`);
  process.exit(1);
}

/** What a stop must tear down; filled in as start-up goes. */
interface Running {
  log?: Logger;
  service?: Service;
}

/** Stops on SIGINT (dockerd's stop) and SIGTERM (its Pdeathsig) with status 0, as docker-proxy does. */
function handleStopSignals(running: Running): void {
  const stop = (signal: NodeJS.Signals): void => {
    running.log?.info({ signal }, 'stopping');
    running.service?.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Without a listener, Node opens its debugger (no authentication) on SIGUSR1: for a proxy that
  // dockerd runs as root, that would hand root to any local user once someone sends the signal.
  process.on('SIGUSR1', () => running.log?.warn('SIGUSR1 ignored (Node would open its debugger)'));
}

/** SIGHUP re-reads the mappings file (many-mappings mode); a bad file keeps the running set. */
function handleReload(service: Service, log: Logger): void {
  let reloading: Promise<void> = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      try {
        const result = await service.reload();
        const level = result.failed.length > 0 ? 'error' : 'info';
        log[level]({ ...result, mappings: service.mappings }, 'reloaded mappings');
      } catch (error) {
        log.error({ err: describeError(error) }, `reload failed, keeping the running mappings: ${describeError(error)}`);
      }
    });
  });
}

/** Says what the process holds from now on, and what could not be given up. */
function logPrivileges(log: Logger, report: PrivilegeReport): void {
  const { held, kept, notApplied } = readBack(report);
  const { uid, gid, capabilities, noNewPrivs, seccompMode } = held;
  const seccomp = seccompMode === 2 ? 'filter' : seccompMode === 1 ? 'strict' : 'off';
  log.info({ uid, gid, capabilities, kept, noNewPrivs, seccomp, probes: report.probes },
    `running as uid ${uid} gid ${gid}, capabilities: ${capabilities.join(', ') || 'none'}, seccomp: ${seccomp}`);
  if (notApplied.length > 0) log.warn({ notApplied }, `not applied: ${notApplied.join('; ')}`);
}

function describeConfig(config: ProxyConfig): string {
  const [first] = config.mappings;
  if (config.mode === 'single' && first !== undefined) return describeMapping(first);
  return `${config.mappings.length} mapping(s) from -p${config.configFile === undefined ? '' : ` and those of ${config.configFile}`}`;
}

async function run(config: ProxyConfig, status: StatusPipe): Promise<void> {
  const running: Running = {};
  handleStopSignals(running);
  const what = describeConfig(config);
  let log: Logger;
  try {
    log = await createLogger({ level: config.logLevel, file: config.logFile, base: config.mode === 'single' ? { mapping: what } : {} });
    running.log = log;
  } catch (error) {
    fail(status, `cannot open log file ${config.logFile ?? ''}: ${describeError(error)}`);
  }
  let service: Service;
  try {
    service = await startService(config, log);
    running.service = service;
  } catch (error) {
    const message = error instanceof ProxyError ? error.message : `failed to start proxy: ${describeError(error)}`;
    log.error({ err: describeError(error) }, message);
    fail(status, message);
  }
  // Everything is open: from here on the proxy needs no more than it keeps (src/privileges/).
  let privileges: PrivilegeReport;
  try {
    if (changesUser(config)) service.loadDataPaths();
    privileges = giveUpPrivileges(config, { probes: process.env.DOCKER_PROXY_TEST_PROBES === '1' });
    assertReachable(config, privileges);
  } catch (error) {
    const message = error instanceof ProxyError ? error.message : `failed to give up privileges: ${describeError(error)}`;
    log.error({ err: describeError(error) }, message);
    service.stop();
    fail(status, message);
  }
  // Before "0\n": whoever was told we are ready may send SIGHUP at once, and until a listener is
  // installed its default action ends the process. In docker-proxy's own mode SIGHUP keeps Go's
  // default: it ends the process.
  if (config.mode === 'multi') handleReload(service, log);
  status.reportReady();
  logPrivileges(log, privileges);
  const ready = log;
  process.on('uncaughtException', (error) => {
    // A bug, not a traffic failure: say so in the log and exit, rather than run on in a bad state.
    ready.fatal({ err: error.stack ?? describeError(error) }, `internal error: ${describeError(error)}`);
    process.exit(1);
  });
  const path = service.hasTcp ? service.tcpPath() : undefined;
  const udp = service.udpPath();
  log.info({
    dataPath: path?.name, fallbackReason: path?.fallbackReason, udpPath: udp?.name, udpFallbackReason: udp?.fallbackReason,
    mappings: service.mappings,
  }, `proxy running: ${what}`);
}

async function main(): Promise<void> {
  // First, before anything else opens descriptors that could be mistaken for the status pipe.
  const status = openStatusPipe();
  const argv0 = process.argv[1] ?? 'docker-proxy';
  const result = await parseCommandLine(process.argv.slice(2), process.env, argv0);
  switch (result.action) {
    case 'help':
      print(2, result.usage);
      process.exit(0);
    case 'version':
      print(1, `${versionLine()}\n`);
      process.exit(0);
    case 'usage-error':
      print(2, `${result.message}\n${result.usage}`);
      process.exit(2);
    case 'fail':
      fail(status, result.error.message);
    case 'run':
      await run(result.config, status);
  }
}

main().catch((error: unknown) => {
  print(2, `docker-proxy: ${describeError(error)}\n`);
  process.exit(1);
});
