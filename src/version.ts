// Version and commit, filled in by the bundler (scripts/build.mjs); "dev" when run from source.
declare const __DOCKER_PROXY_VERSION__: string | undefined;
declare const __DOCKER_PROXY_COMMIT__: string | undefined;

export const VERSION: string = typeof __DOCKER_PROXY_VERSION__ === 'string' ? __DOCKER_PROXY_VERSION__ : 'dev';
export const COMMIT: string = typeof __DOCKER_PROXY_COMMIT__ === 'string' ? __DOCKER_PROXY_COMMIT__ : 'unknown';

/** docker-proxy's version line, same format: "docker-proxy (commit X) version Y". */
export function versionLine(): string {
  return `docker-proxy (commit ${COMMIT}) version ${VERSION}`;
}
