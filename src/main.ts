// The composition root and the only owner of the process contract with dockerd: argv, the status
// pipe on fd 3, the socket on fd 4 (through listen.ts), signals and the exit status.
import { writeSync } from 'node:fs';
import { parseCommandLine } from './cli.js';
import { describeMapping, type ProxyConfig } from './config.js';
import { chooseDataPath, type DataPath } from './data-path.js';
import { ProxyError, describeError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import type { MetricsHandle } from './metrics-setup.js';
import { createProxy, type Proxy } from './proxy.js';
import type { StartRelay } from './relay.js';
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

/** What a stop must tear down; filled in as startup goes. */
interface Running {
  log?: Logger;
  proxy?: Proxy;
  metrics?: MetricsHandle;
}

/** Stops on SIGINT (dockerd's stop) and SIGTERM (its Pdeathsig) with status 0, as docker-proxy does. */
function handleSignals(running: Running): void {
  const stop = (signal: NodeJS.Signals): void => {
    running.log?.info({ signal }, 'stopping');
    running.metrics?.stop();
    running.proxy?.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

async function run(config: ProxyConfig, status: StatusPipe): Promise<void> {
  const running: Running = {};
  handleSignals(running);
  const mapping = describeMapping(config.mapping);
  const tcp = config.mapping.proto === 'tcp';
  let log: Logger;
  try {
    log = await createLogger({ level: config.logLevel, file: config.logFile, base: { mapping } });
    running.log = log;
  } catch (error) {
    fail(status, `cannot open log file ${config.logFile ?? ''}: ${describeError(error)}`);
  }
  // Loading the splice addon (dlopen) is the costliest step of start-up: with 'auto' it happens
  // after "0\n" (or at the first connection, if one comes sooner). Asking for splice explicitly
  // makes an unloadable addon a start-up error instead.
  let dataPath: DataPath | undefined;
  if (tcp && config.dataPath !== 'auto') {
    try {
      dataPath = chooseDataPath(config.dataPath);
    } catch (error) {
      fail(status, describeError(error));
    }
  }
  const currentPath = (): DataPath => (dataPath ??= chooseDataPath(config.dataPath));
  const startRelay: StartRelay = (client, backend) => currentPath().startRelay(client, backend);
  const dataPathName = (): string => (tcp ? currentPath().name : 'datagram');
  try {
    // Loaded only when asked for: a proxy without metrics never evaluates prom-client.
    const metrics = config.metricsAddr !== undefined || config.metricsDir !== undefined
      ? (await import('./metrics-setup.js')).setupMetrics(config, dataPathName, log, config.mapping)
      : undefined;
    running.metrics = metrics;
    const observer = metrics?.observerFor(config.mapping);
    const proxy = await createProxy(config, { log, startRelay, observer });
    running.proxy = proxy;
    if (metrics !== undefined) {
      const { mappingLabels } = await import('./metrics-setup.js');
      await metrics.start([{ labels: mappingLabels(config.mapping), snapshot: () => proxy.snapshot() }]);
    }
  } catch (error) {
    const message = error instanceof ProxyError ? error.message : `failed to start proxy: ${describeError(error)}`;
    log.error({ err: describeError(error) }, message);
    running.metrics?.stop();
    running.proxy?.close();
    fail(status, message);
  }
  status.reportReady();
  const ready = log;
  process.on('uncaughtException', (error) => {
    // A bug, not a traffic failure: say so in the log and exit, rather than run on in a bad state.
    ready.fatal({ err: error.stack ?? describeError(error) }, `internal error: ${describeError(error)}`);
    process.exit(1);
  });
  const fallbackReason = tcp ? currentPath().fallbackReason : undefined;
  log.info({ dataPath: dataPathName(), fallbackReason, listenFd: config.mapping.useListenFd }, `proxy running: ${mapping}`);
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
