// Scenario 2: HTTP keep-alive requests/s and p99 latency through each candidate.
import { httpScenario } from './lib/http-scenario.ts';

export const httpKeepalive = httpScenario({
  name: 'http-keepalive',
  title: 'HTTP keep-alive requests/s',
  description: 'Persistent connections: after the first request per connection, the proxy only relays small messages.',
  closeEach: false,
  rateMetric: { key: 'rps', label: 'requests/s', unit: 'req/s', better: 'higher' },
});
