// The stream relay (pure JS) against the shared Relay contract.
import { startStreamRelay } from '../../../../src/proxy/tcp/stream-relay.ts';
import { describeRelayContract } from './relay-contract.ts';

describeRelayContract({ name: 'stream relay', start: startStreamRelay, idleFds: () => 0 });
