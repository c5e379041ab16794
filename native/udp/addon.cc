// Native UDP data path: the frontend socket, one connected backend socket per client flow, the flow
// table (LRU, exact idle expiry on one timer) and the counters, all driven by libuv polls on Node's
// own event loop. Datagrams move in batches (recvmmsg/sendmmsg) through one set of buffers shared by
// every proxy of the thread, so a flow costs a socket and ~300 bytes, never a 64 KiB buffer. Replies
// leave from the address the client sent to (IP_PKTINFO / IPV6_PKTINFO), as docker-proxy v28+ does.
// Spec: docs/design/engine-contract.md §4.1. JS API (failures are returned, never thrown):
//   open({ listenFd, family, host, port, backendHost, backendPort, idleTimeoutMs, maxFlows, onWarn })
//     -> UdpProxy | { errno, syscall, message }    listenFd -1: bind host:port; else adopt it
//   onWarn(kind, errno)   kind: 'dial' | 'backend-send' | 'backend' | 'reply' | 'frontend'
//   UdpProxy#stats() -> { datagramsToContainer, datagramsToHost, bytesToContainer, bytesToHost,
//                         flowsTotal, flowsActive, flowsExpiredIdle, flowsExpiredEvicted,
//                         flowsExpiredClosed, droppedSendQueueFull, droppedTruncated,
//                         droppedByErrno: { [errno]: count } }
//   UdpProxy#port() -> bound port;  UdpProxy#close()  (idempotent; the sockets close at once)
// This file is the JS binding and the proxy's start and stop. The rest, by concern: batch.h
// (buffers), pktinfo.h (reply source), socket-setup.h, counters.h, flow-table.h, proxy.h (the
// proxy, warnings, freeing), flows.h (open, end, idle timer), to-container.h and to-host.h (the
// two directions), options.h (open()'s options).
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

#include "../js-args.h"
#include "../js-link.h"
#include "batch.h"
#include "counters.h"
#include "flows.h"
#include "options.h"
#include "proxy.h"
#include "socket-setup.h"
#include "to-container.h"
#include "to-host.h"

namespace udp_proxy {

using js_link::Failure;

class ProxyHandle : public js_link::Handle<ProxyHandle, Proxy, Totals> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpProxy",
                       {InstanceMethod<&ProxyHandle::Stats>("stats"),
                        InstanceMethod<&ProxyHandle::Port>("port"),
                        InstanceMethod<&ProxyHandle::Close>("close")});
  }
  explicit ProxyHandle(const Napi::CallbackInfo& info) : Handle(info) {}
  static Totals Read(const Proxy& proxy) { return {proxy.counters, proxy.flows.size()}; }

 private:
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Port(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  int port_ = 0;
};

// Stops everything at once (docker-proxy's "ungraceful" Close): the frontend, the timer, every flow.
void CloseProxy(Proxy* p) {
  if (p->closing) return;
  while (p->flows.oldest() != nullptr) EndFlow(p, p->flows.oldest(), Reason::kClosed);
  p->js.Release();  // after the flows ended: the final counts show none active
  p->closing = true;
  if (p->front_poll_open) {
    p->closing_handles++;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->front_poll), OnHandleClosed);
  }
  if (p->timer_open) {
    p->closing_handles++;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->timer), OnHandleClosed);
  }
  MaybeFree(p);
}

// The environment is exiting (worker termination): drop JS state while the env is still usable
// and close every handle so that libuv's loop can close. No callback is made.
void OnEnvironmentTeardown(napi_async_cleanup_hook_handle, void* data) {
  Proxy* p = static_cast<Proxy*>(data);
  p->js.Release();
  CloseProxy(p);
}

Napi::Value ProxyHandle::Stats(const Napi::CallbackInfo& info) {
  return Napi::Value(info.Env(), TotalsObject(info.Env(), totals()));
}

// Remembered, so that a closed proxy still answers with the port it had.
Napi::Value ProxyHandle::Port(const Napi::CallbackInfo& info) {
  if (native() != nullptr) {
    sockaddr_storage ss;
    socklen_t length = sizeof(ss);
    if (getsockname(native()->front_fd, reinterpret_cast<sockaddr*>(&ss), &length) == 0) {
      port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(ss).sin6_port
                                             : reinterpret_cast<sockaddr_in&>(ss).sin_port);
    }
  }
  return Napi::Number::New(info.Env(), port_);
}

Napi::Value ProxyHandle::Close(const Napi::CallbackInfo& info) {
  if (native() != nullptr) CloseProxy(native());
  return info.Env().Undefined();
}

// Starts the idle timer and the frontend poll; 0 or a libuv error (the proxy must then be closed).
int StartPolling(Proxy* p) {
  p->timer.data = p;
  p->front_poll.data = p;
  int rc = uv_timer_init(p->loop, &p->timer);
  p->timer_open = rc == 0;
  if (rc != 0) return rc;
  uv_unref(reinterpret_cast<uv_handle_t*>(&p->timer));  // like the JS path's unref'd timer
  rc = uv_poll_init(p->loop, &p->front_poll, p->front_fd);
  p->front_poll_open = rc == 0;
  return rc != 0 ? rc : uv_poll_start(&p->front_poll, UV_READABLE, OnFrontPoll);
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    proxy_class_ = Napi::Persistent(ProxyHandle::Define(env));
    DefineAddon(exports, {InstanceMethod<&Addon::Open>("open")});
  }

 private:
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Launch(Napi::Env env, Proxy* p, const Napi::Function& on_warn);
  Napi::FunctionReference proxy_class_;
};

Napi::Value Addon::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  OpenOptions options;
  const Napi::Value failed = ReadOpenOptions(info, &options);
  if (!failed.IsEmpty()) return failed;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    return Failure(env, EINVAL, "open", "no event loop");
  }
  const int fd = options.listen_fd;
  SocketFailure failure{0, "", ""};
  const int front_fd = fd >= 0 ? AdoptSocket(fd, options.family, &failure)
                               : BindSocket(options.frontend, options.frontend_len, &failure);
  if (front_fd < 0) return Failure(env, failure.error, failure.syscall, failure.message);
  Proxy* p = new (std::nothrow) Proxy();
  Batch* batch = p != nullptr ? AcquireBatch() : nullptr;
  if (batch == nullptr) {
    if (fd < 0) close(front_fd);
    delete p;
    return Failure(env, ENOMEM, "open", "cannot allocate the proxy");
  }
  p->loop = loop;
  p->batch = batch;
  p->front_fd = front_fd;
  p->backend = options.backend;
  p->backend_len = options.backend_len;
  p->idle_ms = options.idle_timeout_ms;
  p->max_flows = options.max_flows;
  p->flows.Reserve(p->max_flows < 1024 ? p->max_flows : 1024);
  if (int rc = StartPolling(p)) {
    if (fd >= 0) p->front_fd = -1;  // not adopted after all: the caller still owns it
    CloseProxy(p);
    return Failure(env, -rc, "uv_poll_init", "cannot poll the socket");
  }
  return Launch(env, p, options.on_warn);
}

// Creates the JS side of a running proxy. From here on it ends only through CloseProxy().
Napi::Value Addon::Launch(Napi::Env env, Proxy* p, const Napi::Function& on_warn) {
  Napi::Object object = p->js.Launch(env, proxy_class_, "UdpProxy", on_warn, p, OnEnvironmentTeardown);
  if (object.IsEmpty()) {
    CloseProxy(p);
    return Failure(env, ENOMEM, "open", "cannot create the proxy object");
  }
  return object;
}

}  // namespace udp_proxy

using UdpProxyAddon = udp_proxy::Addon;
NODE_API_ADDON(UdpProxyAddon)
