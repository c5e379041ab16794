// How flows come and go: opened for a new client (a connected backend socket, evicting the least
// recently active flow at max_flows), ended at once when idle, evicted or failed, and the one timer
// that finds idle flows. A flow leaves the table at once; its socket closes when libuv lets go.
#ifndef DOCKER_PROXY_UDP_FLOWS_H_
#define DOCKER_PROXY_UDP_FLOWS_H_

#include <uv.h>

#include <errno.h>
#include <unistd.h>

#include <cstdint>
#include <new>

#include "flow-table.h"
#include "proxy.h"
#include "socket-setup.h"

namespace udp_proxy {

enum class Reason { kIdle, kEvicted, kClosed };

inline void OnFlowClosed(uv_handle_t* handle) {
  Flow* f = static_cast<Flow*>(handle->data);
  Proxy* p = f->proxy;
  close(f->fd);
  delete f;
  p->closing_handles--;
  MaybeFree(p);
}

// Takes a flow out of the table now; its socket closes once libuv has let go of the poll.
inline void EndFlow(Proxy* p, Flow* f, Reason reason) {
  Counters& c = p->counters;
  (reason == Reason::kIdle ? c.flows_expired_idle : reason == Reason::kEvicted ? c.flows_expired_evicted : c.flows_expired_closed)++;
  p->flows.Remove(f);
  p->closing_handles++;
  uv_close(reinterpret_cast<uv_handle_t*>(&f->poll), OnFlowClosed);
}

inline void OnTimer(uv_timer_t* timer);

// Sleeps until the least recently active flow could be idle: one timer for the whole table, and
// each flow expires at its exact deadline (not within 1x-2x of it, as with Go's sweep).
inline void Arm(Proxy* p) {
  if (p->closing || !p->timer_open) return;
  const Flow* oldest = p->flows.oldest();
  if (oldest == nullptr) {
    if (p->timer_armed) uv_timer_stop(&p->timer);
    p->timer_armed = false;
    return;
  }
  const uint64_t due = oldest->last_active + p->idle_ms;
  if (p->timer_armed && p->timer_due <= due) return;
  const uint64_t now = uv_now(p->loop);
  uv_timer_start(&p->timer, OnTimer, due > now ? due - now : 0, 0);
  p->timer_armed = true;
  p->timer_due = due;
}

inline void OnTimer(uv_timer_t* timer) {
  Proxy* p = static_cast<Proxy*>(timer->data);
  p->timer_armed = false;
  const uint64_t now = uv_now(p->loop);
  while (p->flows.oldest() != nullptr && now - p->flows.oldest()->last_active >= p->idle_ms) {
    EndFlow(p, p->flows.oldest(), Reason::kIdle);
  }
  Arm(p);
}

// A dial failure costs the datagram that asked for the flow, and is reported.
inline Flow* FailDial(Proxy* p, int error) {
  DropForError(&p->counters, error, 1);
  Warn(p, "dial", error);
  return nullptr;
}

// The flow of a new client, its backend socket polled with `on_backend` (to-host.h's OnFlowPoll);
// null (counted and reported) if that socket cannot be had.
inline Flow* OpenFlow(Proxy* p, const FlowKey& key, const sockaddr_storage& client, socklen_t client_len,
                      uv_poll_cb on_backend) {
  int fd = -1;
  if (int error = DialBackend(p->backend, p->backend_len, &fd)) return FailDial(p, error);
  Flow* f = new (std::nothrow) Flow();
  if (f == nullptr) {
    close(fd);
    return FailDial(p, ENOMEM);
  }
  if (int rc = uv_poll_init(p->loop, &f->poll, fd)) {
    close(fd);
    delete f;  // the poll was not initialised: no uv_close to wait for
    return FailDial(p, -rc);
  }
  f->proxy = p;
  f->fd = fd;
  f->poll.data = f;
  if (int rc = uv_poll_start(&f->poll, UV_READABLE, on_backend)) {
    p->closing_handles++;  // OnFlowClosed closes fd and frees f
    uv_close(reinterpret_cast<uv_handle_t*>(&f->poll), OnFlowClosed);
    return FailDial(p, -rc);
  }
  while (p->flows.size() >= p->max_flows && p->flows.oldest() != nullptr) {
    EndFlow(p, p->flows.oldest(), Reason::kEvicted);
  }
  f->key = key;
  f->client = client;
  f->client_len = client_len;
  p->flows.Insert(f, uv_now(p->loop));
  p->counters.flows_total++;
  Arm(p);
  return f;
}

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_FLOWS_H_
