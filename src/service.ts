// Service assembles a running proxy process from its configuration: the data path, the
// supervisor with every mapping, and the metrics. main.ts owns the process contract around it.
import type { Mapping, ProxyConfig } from './config.js';
import { addonsOpenToEveryone } from './proxy/addon.js';
import { chooseTcpPath, chooseUdpPath, type TcpPath } from './proxy/data-path.js';
import type { UdpPath } from './proxy/contract.js';
import type { Logger } from './log.js';
import { readConfigFile } from './cli/config-file.js';
import type { MetricsHandle } from './metrics/setup.js';
import type { StartRelay } from './proxy/tcp/relay.js';
import { Supervisor, type ReloadResult } from './supervisor.js';

/** A started service; stop() is synchronous so that signal handlers can call it before exiting. */
export interface Service {
  readonly mappings: number;
  /** Whether any mapping (or the config file) can carry TCP: only then is there a data path to choose. */
  readonly hasTcp: boolean;
  /** The TCP relay in use ('splice' or 'stream'); settles the 'auto' choice if still open. */
  tcpPath(): TcpPath;
  /** The UDP path in use, once a UDP mapping has been opened (none yet: undefined). */
  udpPath(): UdpPath | undefined;
  /**
   * Loads every addon this configuration may still use (the TCP path; the UDP one too where a
   * reload can add UDP) if a change of user would put the files out of reach (a checkout in a
   * private directory: mktemp -d, /root); otherwise they load when first needed.
   */
  loadDataPaths(): void;
  /** Re-reads the config file (multi mode); throws, keeping the running set, if it is bad. */
  reload(): Promise<ReloadResult>;
  stop(): void;
}

/** Holds what is started so far, so that a failed start-up can undo it. */
interface Parts {
  metrics?: MetricsHandle;
  supervisor?: Supervisor;
}

/**
 * Starts every mapping and the metrics; everything is bound before this resolves, or nothing is
 * left bound and it throws. With --data-path auto, the splice addon is loaded later: at the first
 * connection or when tcpPath() is first asked (main asks right after reporting ready).
 */
export async function startService(config: ProxyConfig, log: Logger): Promise<Service> {
  const hasTcp = config.mappings.some((mapping) => mapping.proto === 'tcp') || config.configFile !== undefined;
  // An explicit choice is checked now (an unloadable addon is a start-up error); 'auto' waits.
  let path: TcpPath | undefined = config.dataPath.path !== 'auto' && hasTcp ? chooseTcpPath(config.dataPath) : undefined;
  const tcpPath = (): TcpPath => (path ??= chooseTcpPath(config.dataPath));
  const startRelay: StartRelay = (client, backend) => tcpPath().startRelay(client, backend);
  // Decided at the first UDP mapping (the first open, so an unloadable addon fails start-up), then kept.
  let chosenUdpPath: UdpPath | undefined;
  const udpPath = (): UdpPath => {
    if (chosenUdpPath === undefined) {
      chosenUdpPath = chooseUdpPath(config.dataPath);
      log.debug({ udpPath: chosenUdpPath.name, fallbackReason: chosenUdpPath.fallbackReason }, `udp data path: ${chosenUdpPath.name}`);
    }
    return chosenUdpPath;
  };
  // build_info's data_path: the TCP path where TCP is served, else the UDP one ('native' or 'js').
  const dataPathName = (): string => (hasTcp ? tcpPath().name : udpPath().name);
  const fileMappings = (): Mapping[] => (config.configFile === undefined ? [] : readConfigFile(config.configFile));
  const parts: Parts = {};
  try {
    const single = config.mode === 'single' ? config.mappings[0] : undefined;
    // Loaded only when asked for: a proxy without metrics never evaluates prom-client.
    if (config.metricsAddr !== undefined || config.metricsDir !== undefined) {
      parts.metrics = (await import('./metrics/setup.js')).setupMetrics(config, dataPathName, log, single);
    }
    const supervisor = new Supervisor({
      log, startRelay, udp: { ...config.udp, path: udpPath }, metrics: parts.metrics, nameMappingsInErrors: config.mode === 'multi',
    });
    parts.supervisor = supervisor;
    await supervisor.openAll([...config.mappings, ...fileMappings()]);
    await parts.metrics?.start();
    return {
      get mappings() {
        return supervisor.size;
      },
      hasTcp,
      tcpPath,
      udpPath: () => chosenUdpPath,
      loadDataPaths: () => {
        // Loading the splice addon is a slow start-up step: left for later where it can be.
        if (addonsOpenToEveryone()) return;
        if (hasTcp) tcpPath();
        if (config.configFile !== undefined) udpPath();
      },
      reload: () => supervisor.reload([...config.mappings, ...fileMappings()]),
      stop: () => stopParts(parts),
    };
  } catch (error) {
    stopParts(parts);
    throw error;
  }
}

function stopParts(parts: Parts): void {
  parts.metrics?.stop();
  parts.supervisor?.closeAll();
}
