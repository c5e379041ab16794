// One proxy: the frontend socket, its flows, its counters and its link to JS, and the two ends of
// its life that everything else relies on: warnings queued for JS, and freeing once libuv has let
// go of every handle. How it is opened and closed is addon.cc; how flows come and go, flows.h.
#ifndef DOCKER_PROXY_UDP_PROXY_H_
#define DOCKER_PROXY_UDP_PROXY_H_

#include <uv.h>

#include <netinet/in.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../js-link.h"
#include "batch.h"
#include "counters.h"
#include "flow-table.h"

namespace udp_proxy {

constexpr int kWarnsPerSecond = 20;  // JS calls for warnings; the rest are only counted

class ProxyHandle;

struct Proxy {
  uv_loop_t* loop = nullptr;
  Batch* batch = nullptr;
  int front_fd = -1;
  sockaddr_storage backend;
  socklen_t backend_len = 0;
  uint64_t idle_ms = 0;
  size_t max_flows = 0;
  uv_poll_t front_poll;
  uv_timer_t timer;  // the idle expiry of the whole table (flows.h)
  bool front_poll_open = false;
  bool timer_open = false;
  bool timer_armed = false;
  uint64_t timer_due = 0;
  int closing_handles = 0;  // uv_close calls whose callback has not run yet
  bool closing = false;
  FlowTable flows;
  Counters counters;
  uint64_t warn_window = 0;
  int warns_in_window = 0;
  // Warnings wait here until the callback that met them is done: JS never runs mid-batch.
  struct PendingWarn {
    const char* kind;
    int error;
  } warns[kWarnsPerSecond];
  int warns_pending = 0;
  js_link::JsState<ProxyHandle> js;  // onWarn; keeps the JS object alive while open
};

// Queues a failure for JS (it logs, throttled); beyond kWarnsPerSecond a second it is only counted.
inline void Warn(Proxy* p, const char* kind, int error) {
  if (p->js.link.callback == nullptr || p->closing) return;
  const uint64_t now = uv_now(p->loop);
  if (now - p->warn_window >= 1000) {
    p->warn_window = now;
    p->warns_in_window = 0;
  }
  if (p->warns_in_window >= kWarnsPerSecond || p->warns_pending >= kWarnsPerSecond) return;
  p->warns_in_window++;
  p->warns[p->warns_pending++] = {kind, error};
}

// Delivers queued warnings. JS may close the proxy from onWarn; the memory stays valid until the
// close callbacks run (the frontend poll is always among them), so only the JS state is rechecked.
inline void FlushWarnings(Proxy* p) {
  const int count = p->warns_pending;
  p->warns_pending = 0;
  Proxy::PendingWarn queued[kWarnsPerSecond];
  std::memcpy(queued, p->warns, sizeof(Proxy::PendingWarn) * static_cast<size_t>(count));
  for (int i = 0; i < count && p->js.link.callback != nullptr; ++i) {
    p->js.link.Call([&queued, i](napi_env env, napi_value* argv) -> size_t {
      napi_create_string_utf8(env, queued[i].kind, NAPI_AUTO_LENGTH, &argv[0]);
      napi_create_int32(env, queued[i].error, &argv[1]);
      return 2;
    });
  }
}

// Once every handle is closed libuv holds no pointer into the proxy: free it.
inline void MaybeFree(Proxy* p) {
  if (!p->closing || p->closing_handles > 0) return;
  if (p->front_fd >= 0) close(p->front_fd);
  p->front_fd = -1;
  if (p->batch != nullptr) ReleaseBatch();
  p->js.RemoveCleanupHook();
  delete p;
}

// The close callback of the proxy's own handles (frontend poll, timer).
inline void OnHandleClosed(uv_handle_t* handle) {
  Proxy* p = static_cast<Proxy*>(handle->data);
  p->closing_handles--;
  MaybeFree(p);
}

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_PROXY_H_
