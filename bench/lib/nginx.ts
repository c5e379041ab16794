// nginx as the HTTP backend: its own config, pid file, logs and one small static file in a
// temp dir, listening on an OS-chosen port of 127.0.0.1.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { osChosenPort } from '../../test/helpers/ports.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import { startTracked, stopTracked } from './procs.ts';
import { untilListening } from './wait.ts';

/** Size of the static file served: a small response, so that per-request costs dominate. */
export const STATIC_FILE_BYTES = 512;
export const STATIC_PATH = '/index.html';

export interface Nginx {
  readonly port: number;
  stop(): Promise<void>;
}

function config(dir: string, port: number): string {
  return `worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { root ${dir}/www; }
  }
}
`;
}

/** Starts nginx (one worker: leaves CPU for the proxy on a small machine) on `chosen` or an OS-chosen port. */
export async function startNginx(chosen?: number): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  // nginx's workers run as nobody when started by root: they must be able to read the file.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'www'), { mode: 0o755 });
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'www', 'index.html'), 'x'.repeat(STATIC_FILE_BYTES - 1) + '\n', { mode: 0o644 });
  const port = chosen ?? await osChosenPort('tcp', LOOPBACK.v4);
  writeFileSync(join(dir, 'nginx.conf'), config(dir, port));
  const proc = startTracked('nginx', ['-e', join(dir, 'error.log'), '-p', dir, '-c', join(dir, 'nginx.conf')],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  await untilListening(proc, 'tcp', port, 'nginx');
  return {
    port,
    stop: async () => {
      await stopTracked(proc, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
