// Scenario 3: new connections per second: every request on its own connection.
import { httpScenario } from './lib/http-scenario.ts';

export const httpClose = httpScenario({
  name: 'http-close',
  title: 'New connections/s (Connection: close)',
  description: "wrk sends `Connection: close`, so every request is a new client connection and a new backend "
    + 'connection through the proxy: this measures accept + connect + teardown.',
  closeEach: true,
  rateMetric: { key: 'conn_per_s', label: 'connections/s', unit: 'conn/s', better: 'higher' },
});
