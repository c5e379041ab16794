// Wires the metrics for the mappings of this process: the registry, the HTTP endpoint and the
// textfile writer. main imports this module only when metrics are enabled, so a proxy without
// metrics never loads prom-client.
import type { Server } from 'node:net';
import { mappingKey, type Mapping, type ProxyConfig } from '../config.js';
import { ProxyError, describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { Metrics, type MappingLabels, type MetricsSource } from './registry.js';
import type { MappingRegistry } from '../supervisor.js';
import { TextfileWriter } from './textfile.js';
import { serveMetrics } from './http-server.js';
import { VERSION } from '../version.js';

/** The running exporters; stop() is synchronous so that exit paths can call it. */
export interface MetricsHandle extends MappingRegistry {
  /** Starts publishing; a bad address, a port in use or an unwritable dir throws. */
  start(): Promise<void>;
  stop(): void;
}

/** The labels docker-proxy's argv gives a mapping. */
export function mappingLabels(mapping: Mapping): MappingLabels {
  return {
    proto: mapping.proto,
    host_ip: mapping.frontend.host,
    host_port: String(mapping.frontend.port),
    container_ip: mapping.backend.host,
    container_port: String(mapping.backend.port),
  };
}

/** Sets up metrics for this process; `single` puts the one mapping's labels on every series. */
export function setupMetrics(config: ProxyConfig, dataPath: () => string, log: Logger, single: Mapping | undefined): MetricsHandle {
  // node_exporter exports its own process_* series; ours would clash in textfile mode.
  const prefix = config.metricsDir !== undefined ? 'docker_proxy_' : '';
  const metrics = new Metrics({ version: VERSION, dataPath, defaultMetricsPrefix: prefix, warn: (message) => log.warn(message) });
  if (single !== undefined) metrics.labelEverything(mappingLabels(single));
  let server: Server | undefined;
  let writer: TextfileWriter | undefined;
  let serving = true;
  const sources = new Map<string, MetricsSource>();
  return {
    observerFor: (mapping) => metrics.observerFor(mappingLabels(mapping)),
    add(mapping, snapshot) {
      const source = { labels: mappingLabels(mapping), snapshot };
      sources.set(mappingKey(mapping), source);
      metrics.add(source);
    },
    remove(mapping) {
      const source = sources.get(mappingKey(mapping));
      if (source !== undefined) metrics.remove(source);
      sources.delete(mappingKey(mapping));
    },
    async start() {
      if (config.metricsAddr !== undefined) {
        const { host, port } = config.metricsAddr;
        server = await serveMetrics(host, port, {
          contentType: metrics.contentType, render: () => metrics.render(), healthy: () => serving,
        });
        log.info({ metricsAddr: server.address() }, 'serving metrics');
      }
      if (config.metricsDir !== undefined) {
        const name = single === undefined ? `multi_${process.pid}.prom` : `${single.proto}_${single.frontend.host}_${single.frontend.port}.prom`;
        writer = new TextfileWriter({
          dir: config.metricsDir, fileName: name, intervalMs: config.metricsIntervalMs,
          render: () => metrics.render(), onError: (message) => log.warn(message),
        });
        try {
          await writer.start();
        } catch (error) {
          throw new ProxyError(describeError(error), { cause: error });
        }
        log.info({ metricsFile: writer.path }, 'writing metrics file');
      }
    },
    stop() {
      serving = false;
      server?.close();
      writer?.stop();
    },
  };
}
