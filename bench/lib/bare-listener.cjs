// The floor for start-up time and idle memory: plain Node with a TCP listener that takes
// docker-proxy's flags, writes "0\n" on fd 3 and pipes each connection to the backend. No
// dependencies, no logging, no metrics: what any Node proxy pays before doing anything useful.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, like dist/docker-proxy.cjs:
   no ESM loader, so no libuv threadpool at start-up (docs/design/node-facts.md §3). */
const fs = require('node:fs');
const net = require('node:net');

const flags = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const name = argv[i].replace(/^--?/, '');
  if (name === 'use-listen-fd') flags[name] = 'true';
  else flags[name] = argv[++i];
}
if (flags.proto !== 'tcp') {
  process.stderr.write('bare-listener: only -proto tcp\n');
  process.exit(2);
}

const backend = { host: flags['container-ip'], port: Number(flags['container-port']), noDelay: true, allowHalfOpen: true };
const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = net.connect(backend);
  const destroy = () => { client.destroy(); upstream.destroy(); };
  client.on('error', destroy);
  upstream.on('error', destroy);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen({ host: flags['host-ip'], port: Number(flags['host-port']) }, () => {
  try {
    fs.writeSync(3, '0\n');
    fs.closeSync(3);
  } catch {
    // Run by hand: no status pipe.
  }
});
const stop = () => process.exit(0);
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
