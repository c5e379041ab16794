// open()'s options object, read and checked at the edge: after ReadOpenOptions() the rest of the
// addon trusts every value. Ranges are those docker-proxy's flags allow.
#ifndef DOCKER_PROXY_UDP_OPTIONS_H_
#define DOCKER_PROXY_UDP_OPTIONS_H_

#include <napi.h>

#include <errno.h>
#include <sys/socket.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../js-args.h"
#include "socket-setup.h"

namespace udp_proxy {

struct OpenOptions {
  int listen_fd = -1;  // the engine's socket to adopt (-use-listen-fd); -1: bind `frontend`
  int family = 4;      // of the frontend: 4 or 6
  sockaddr_storage frontend;
  socklen_t frontend_len = 0;
  sockaddr_storage backend;
  socklen_t backend_len = 0;
  uint64_t idle_timeout_ms = 0;
  size_t max_flows = 0;
  Napi::Function on_warn;
};

// Fills `out` from the call's options object; else returns the failure object for JS (EINVAL).
inline Napi::Value ReadOpenOptions(const Napi::CallbackInfo& info, OpenOptions* out) {
  Napi::Env env = info.Env();
  js_link::OptionReader options(info);
  out->listen_fd = static_cast<int>(options.Integer("listenFd", -1, INT_MAX));
  out->family = static_cast<int>(options.Integer("family", 4, 6));
  const std::string host = options.String("host");
  const int port = static_cast<int>(options.Integer("port", 0, 65535));
  const std::string backend_host = options.String("backendHost");
  const int backend_port = static_cast<int>(options.Integer("backendPort", 1, 65535));
  out->idle_timeout_ms = static_cast<uint64_t>(options.Integer("idleTimeoutMs", 1, 1e12));
  out->max_flows = static_cast<size_t>(options.Integer("maxFlows", 1, 1e9));
  out->on_warn = options.Function("onWarn");
  if (!options.ok()) return js_link::Failure(env, EINVAL, "open", options.problem());
  if ((out->family != 4 && out->family != 6) ||
      !ParseAddress(host, out->family, port, &out->frontend, &out->frontend_len)) {
    return js_link::Failure(env, EINVAL, "open", "the host address is not an IP of the family");
  }
  if (!ParseAddress(backend_host, 0, backend_port, &out->backend, &out->backend_len)) {
    return js_link::Failure(env, EINVAL, "open", "the backend address is not an IP");
  }
  return Napi::Value();
}

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_OPTIONS_H_
