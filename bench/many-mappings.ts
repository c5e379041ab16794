// Scenario 7, a placeholder: many mappings in one process is not implemented yet, so there is
// nothing to time. The report says so instead of showing a number.
import type { Scenario } from './lib/scenario.ts';

export const manyMappings: Scenario = {
  name: 'many-mappings',
  title: 'Many mappings in one process',
  description: 'Footprint and start-up of one process serving many port mappings, against one process per mapping.',
  metrics: [],
  candidates: [],
  placeholder: 'not implemented yet: the proxy has no many-mappings mode to measure.',
};
