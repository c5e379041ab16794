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
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <string>
#include <unordered_map>

#include "js-args.h"
#include "js-link.h"

namespace udp_proxy {
namespace {

using js_link::Failure;

constexpr int kBatch = 32;             // datagrams per recvmmsg/sendmmsg
constexpr int kRoundsPerWakeup = 8;    // batches per readiness event: bounds one socket's hold on the loop
constexpr size_t kSlotSize = 65536;    // any UDP payload (65507 on IPv4, 65527 on IPv6) fits
constexpr int kWarnsPerSecond = 20;    // JS calls for warnings; the rest are only counted
// Frontend receive buffer asked for (the kernel caps it at net.core.rmem_max): a burst, or a few ms
// without CPU on a busy host, overflows the default (~208 KiB, ~270 small datagrams) and loses them.
constexpr int kFrontendReceiveBuffer = 4 << 20;
constexpr size_t kControlSize = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

// What a proxy counts. stats() reports each field under its own name, so adding one moves nothing.
struct Counters {
  uint64_t datagrams_to_container = 0;  // received from clients, forwarded or not
  uint64_t datagrams_to_host = 0;       // received from the backend
  uint64_t bytes_to_container = 0;
  uint64_t bytes_to_host = 0;
  uint64_t flows_total = 0;  // flows opened
  uint64_t flows_expired_idle = 0;
  uint64_t flows_expired_evicted = 0;  // ended to make room at max_flows
  uint64_t flows_expired_closed = 0;   // ended by a socket error or close()
  uint64_t dropped_send_queue_full = 0;  // EAGAIN/ENOBUFS on a non-blocking send
  // Larger than a slot (impossible for UDP: never forward a cut datagram), or a source that is not IP.
  uint64_t dropped_truncated = 0;
  std::map<int, uint64_t> dropped_by_errno;  // every other failed send or dial
};

// stats(): the counters and the flows open at the time.
struct Totals {
  Counters counters;
  size_t flows_active = 0;
};

enum class Reason { kIdle, kEvicted, kClosed };

// The buffers of one batch. Handling is synchronous (read a batch, send it, return), so one set per
// thread serves every proxy of a Node environment; the payload area is faulted in only as used.
struct Batch {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage names[kBatch];
  alignas(cmsghdr) unsigned char control[kBatch][kControlSize];
  unsigned char* data = nullptr;
};
thread_local Batch* tls_batch = nullptr;
thread_local int tls_batch_users = 0;

Batch* AcquireBatch() {
  if (tls_batch == nullptr) {
    Batch* batch = new (std::nothrow) Batch();
    if (batch == nullptr) return nullptr;
    batch->data = static_cast<unsigned char*>(std::malloc(kSlotSize * kBatch));
    if (batch->data == nullptr) {
      delete batch;
      return nullptr;
    }
    tls_batch = batch;
  }
  tls_batch_users++;
  return tls_batch;
}

void ReleaseBatch() {
  if (--tls_batch_users > 0 || tls_batch == nullptr) return;
  std::free(tls_batch->data);
  delete tls_batch;
  tls_batch = nullptr;
}

// Points every message at its slot; `name` and `control` ask for the source address and PKTINFO.
void PrepareReceive(Batch* b, bool name, bool control) {
  for (int i = 0; i < kBatch; ++i) {
    b->iov[i].iov_base = b->data + static_cast<size_t>(i) * kSlotSize;
    b->iov[i].iov_len = kSlotSize;
    msghdr& h = b->msgs[i].msg_hdr;
    h.msg_name = name ? &b->names[i] : nullptr;
    h.msg_namelen = name ? sizeof(sockaddr_storage) : 0;
    h.msg_iov = &b->iov[i];
    h.msg_iovlen = 1;
    h.msg_control = control ? b->control[i] : nullptr;
    h.msg_controllen = control ? kControlSize : 0;
    h.msg_flags = 0;
    b->msgs[i].msg_len = 0;
  }
}

// A client: address family, 16 address bytes (IPv4 in the first 4) and port.
struct FlowKey {
  uint8_t addr[16];
  uint16_t port;
  uint16_t family;
  bool operator==(const FlowKey& o) const {
    return port == o.port && family == o.family && std::memcmp(addr, o.addr, sizeof(addr)) == 0;
  }
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const {
    uint64_t a, b;
    std::memcpy(&a, k.addr, 8);
    std::memcpy(&b, k.addr + 8, 8);
    uint64_t h = (a * 0x9E3779B97F4A7C15ull) ^ (b * 0x632BE59BD9B4E019ull);
    h ^= (static_cast<uint64_t>(k.port) << 16 | k.family) * 0xC2B2AE3D27D4EB4Full;
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

bool KeyOf(const sockaddr_storage& ss, FlowKey* key) {
  std::memset(key, 0, sizeof(*key));
  key->family = ss.ss_family;
  if (ss.ss_family == AF_INET) {
    const sockaddr_in& sin = reinterpret_cast<const sockaddr_in&>(ss);
    std::memcpy(key->addr, &sin.sin_addr, 4);
    key->port = sin.sin_port;
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    const sockaddr_in6& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
    std::memcpy(key->addr, &sin6.sin6_addr, 16);
    key->port = sin6.sin6_port;
    return true;
  }
  return false;
}

struct Proxy;
class ProxyHandle;

struct Flow {
  Proxy* proxy = nullptr;
  FlowKey key;
  sockaddr_storage client;
  socklen_t client_len = 0;
  int pktinfo_level = 0;  // 0: no PKTINFO came with the first datagram; the kernel picks the source
  in_pktinfo pktinfo4;
  in6_pktinfo pktinfo6;
  int fd = -1;
  uv_poll_t poll;
  uint64_t last_active = 0;
  Flow* prev = nullptr;  // LRU list: head is the least recently active
  Flow* next = nullptr;
};

struct Proxy {
  uv_loop_t* loop = nullptr;
  Batch* batch = nullptr;
  int front_fd = -1;
  sockaddr_storage backend;
  socklen_t backend_len = 0;
  uint64_t idle_ms = 0;
  size_t max_flows = 0;
  uv_poll_t front_poll;
  uv_timer_t timer;
  bool front_poll_open = false;
  bool timer_open = false;
  bool timer_armed = false;
  uint64_t timer_due = 0;
  int closing_handles = 0;  // uv_close calls whose callback has not run yet
  bool closing = false;
  std::unordered_map<FlowKey, Flow*, FlowKeyHash> flows;
  Flow* head = nullptr;
  Flow* tail = nullptr;
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

// The JS form of stats(), field by field. Null if no object can be made.
napi_value TotalsObject(napi_env env, const Totals& totals) {
  using js_link::SetCount;
  const Counters& c = totals.counters;
  napi_value out = js_link::NewObject(env);
  napi_value by_errno = js_link::NewObject(env);
  if (out == nullptr || by_errno == nullptr) return nullptr;
  SetCount(env, out, "datagramsToContainer", c.datagrams_to_container);
  SetCount(env, out, "datagramsToHost", c.datagrams_to_host);
  SetCount(env, out, "bytesToContainer", c.bytes_to_container);
  SetCount(env, out, "bytesToHost", c.bytes_to_host);
  SetCount(env, out, "flowsTotal", c.flows_total);
  SetCount(env, out, "flowsActive", totals.flows_active);
  SetCount(env, out, "flowsExpiredIdle", c.flows_expired_idle);
  SetCount(env, out, "flowsExpiredEvicted", c.flows_expired_evicted);
  SetCount(env, out, "flowsExpiredClosed", c.flows_expired_closed);
  SetCount(env, out, "droppedSendQueueFull", c.dropped_send_queue_full);
  SetCount(env, out, "droppedTruncated", c.dropped_truncated);
  for (const auto& drop : c.dropped_by_errno) SetCount(env, by_errno, std::to_string(drop.first).c_str(), drop.second);
  napi_set_named_property(env, out, "droppedByErrno", by_errno);
  return out;
}

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

void OnFlowPoll(uv_poll_t* poll, int status, int events);
void CloseProxy(Proxy* p);

void DropForError(Proxy* p, int error, uint64_t count) {
  if (count > 0) p->counters.dropped_by_errno[error] += count;
}

// Queues a failure for JS (it logs, throttled); beyond kWarnsPerSecond a second it is only counted.
void Warn(Proxy* p, const char* kind, int error) {
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
void FlushWarnings(Proxy* p) {
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

void Unlink(Proxy* p, Flow* f) {
  (f->prev != nullptr ? f->prev->next : p->head) = f->next;
  (f->next != nullptr ? f->next->prev : p->tail) = f->prev;
  f->prev = f->next = nullptr;
}

void Append(Proxy* p, Flow* f) {
  f->prev = p->tail;
  f->next = nullptr;
  (p->tail != nullptr ? p->tail->next : p->head) = f;
  p->tail = f;
}

void Touch(Proxy* p, Flow* f) {
  f->last_active = uv_now(p->loop);
  if (p->tail == f) return;
  Unlink(p, f);
  Append(p, f);
}

void MaybeFree(Proxy* p);

void OnHandleClosed(uv_handle_t* handle) {
  Proxy* p = static_cast<Proxy*>(handle->data);
  p->closing_handles--;
  MaybeFree(p);
}

void OnFlowClosed(uv_handle_t* handle) {
  Flow* f = static_cast<Flow*>(handle->data);
  Proxy* p = f->proxy;
  close(f->fd);
  delete f;
  p->closing_handles--;
  MaybeFree(p);
}

// Takes a flow out of the table now; its socket closes once libuv has let go of the poll.
void EndFlow(Proxy* p, Flow* f, Reason reason) {
  Counters& c = p->counters;
  (reason == Reason::kIdle ? c.flows_expired_idle : reason == Reason::kEvicted ? c.flows_expired_evicted : c.flows_expired_closed)++;
  p->flows.erase(f->key);
  Unlink(p, f);
  p->closing_handles++;
  uv_close(reinterpret_cast<uv_handle_t*>(&f->poll), OnFlowClosed);
}

void OnTimer(uv_timer_t* timer);

// Sleeps until the least recently active flow could be idle: one timer for the whole table.
void Arm(Proxy* p) {
  if (p->closing || !p->timer_open) return;
  if (p->head == nullptr) {
    if (p->timer_armed) uv_timer_stop(&p->timer);
    p->timer_armed = false;
    return;
  }
  const uint64_t due = p->head->last_active + p->idle_ms;
  if (p->timer_armed && p->timer_due <= due) return;
  const uint64_t now = uv_now(p->loop);
  uv_timer_start(&p->timer, OnTimer, due > now ? due - now : 0, 0);
  p->timer_armed = true;
  p->timer_due = due;
}

void OnTimer(uv_timer_t* timer) {
  Proxy* p = static_cast<Proxy*>(timer->data);
  p->timer_armed = false;
  const uint64_t now = uv_now(p->loop);
  while (p->head != nullptr && now - p->head->last_active >= p->idle_ms) {
    EndFlow(p, p->head, Reason::kIdle);
  }
  Arm(p);
}

// The reply source: the address the client's first datagram was sent to, fixed for the flow.
void RecordPktinfo(Flow* f, const msghdr* h) {
  if (h->msg_control == nullptr) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(h), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      std::memset(&f->pktinfo4, 0, sizeof(f->pktinfo4));
      f->pktinfo4.ipi_spec_dst = info.ipi_addr;  // ifindex 0: let routing pick the interface
      f->pktinfo_level = IPPROTO_IP;
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      f->pktinfo6.ipi6_addr = info.ipi6_addr;
      // A link-local source only means something on the interface it came in on.
      f->pktinfo6.ipi6_ifindex = IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr) ? info.ipi6_ifindex : 0;
      f->pktinfo_level = IPPROTO_IPV6;
      return;
    }
  }
}

Flow* OpenFlow(Proxy* p, const FlowKey& key, const sockaddr_storage& client, socklen_t client_len) {
  int error = 0;
  Flow* f = nullptr;
  const int fd = socket(p->backend.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = errno;
  } else if (connect(fd, reinterpret_cast<const sockaddr*>(&p->backend), p->backend_len) != 0) {
    error = errno;
  } else if ((f = new (std::nothrow) Flow()) == nullptr) {
    error = ENOMEM;
  } else if (int rc = uv_poll_init(p->loop, &f->poll, fd)) {
    error = -rc;  // the handle was not initialised: nothing to close
    delete f;
    f = nullptr;
  } else {
    f->proxy = p;
    f->fd = fd;
    f->poll.data = f;
    if (int rc2 = uv_poll_start(&f->poll, UV_READABLE, OnFlowPoll)) {
      error = -rc2;
      p->closing_handles++;  // OnFlowClosed closes fd and frees f
      uv_close(reinterpret_cast<uv_handle_t*>(&f->poll), OnFlowClosed);
      DropForError(p, error, 1);
      Warn(p, "dial", error);
      return nullptr;
    }
  }
  if (error != 0) {
    if (fd >= 0) close(fd);
    DropForError(p, error, 1);
    Warn(p, "dial", error);
    return nullptr;
  }
  while (p->flows.size() >= p->max_flows && p->head != nullptr) EndFlow(p, p->head, Reason::kEvicted);
  f->key = key;
  f->client = client;
  f->client_len = client_len;
  p->flows.emplace(key, f);
  Append(p, f);
  f->last_active = uv_now(p->loop);
  p->counters.flows_total++;
  Arm(p);
  return f;
}

// Client -> container: msgs [0, count) all belong to `f`. A port-unreachable caused by an earlier
// datagram is reported by the next send and consumes the error without sending: send again, once.
void SendToBackend(Proxy* p, Flow* f, mmsghdr* msgs, int count) {
  int sent = 0;
  bool retried = false;
  while (sent < count) {
    int n = sendmmsg(f->fd, msgs + sent, static_cast<unsigned>(count - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
      retried = false;
      continue;
    }
    const int error = n < 0 ? errno : EIO;
    if (error == EINTR) continue;
    if (error == ECONNREFUSED && !retried) {
      retried = true;
      continue;
    }
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
      p->counters.dropped_send_queue_full += static_cast<uint64_t>(count - sent);
      return;
    }
    DropForError(p, error, 1);
    Warn(p, "backend-send", error);
    sent++;
    retried = false;
  }
}

void ReadFrontend(Proxy* p) {
  Batch* b = p->batch;
  for (int round = 0; round < kRoundsPerWakeup; ++round) {
    PrepareReceive(b, true, true);
    int n = recvmmsg(p->front_fd, b->msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) Warn(p, "frontend", errno);
      return;
    }
    // Consecutive datagrams of one client go out in one sendmmsg. A group is sent before any new
    // flow is opened, so the eviction that opening may cause never hits a flow with pending sends.
    Flow* group = nullptr;
    int start = 0;
    for (int i = 0; i < n; ++i) {
      msghdr& h = b->msgs[i].msg_hdr;
      const msghdr received = h;  // source address and PKTINFO as the kernel filled them in
      const unsigned length = b->msgs[i].msg_len;
      b->iov[i].iov_len = length;
      h.msg_name = nullptr;  // the backend socket is connected, and must choose its own source
      h.msg_namelen = 0;
      h.msg_control = nullptr;
      h.msg_controllen = 0;
      p->counters.datagrams_to_container++;
      p->counters.bytes_to_container += length;
      FlowKey key;
      const bool valid = (received.msg_flags & MSG_TRUNC) == 0 && KeyOf(b->names[i], &key);
      if (valid && group != nullptr && group->key == key) continue;
      if (group != nullptr) SendToBackend(p, group, b->msgs + start, i - start);
      group = nullptr;
      start = i + 1;
      if (!valid) {
        p->counters.dropped_truncated++;
        continue;
      }
      auto found = p->flows.find(key);
      Flow* f = found != p->flows.end() ? found->second : nullptr;
      if (f == nullptr) {
        f = OpenFlow(p, key, b->names[i], received.msg_namelen);
        if (f == nullptr) continue;
        RecordPktinfo(f, &received);
      } else {
        Touch(p, f);
      }
      group = f;
      start = i;
    }
    if (group != nullptr) SendToBackend(p, group, b->msgs + start, n - start);
    if (n < kBatch) return;
  }
}

// Container -> client, from the frontend socket with the flow's reply source. Returns false if the
// flow ended: as in docker-proxy, a failed write towards the client ends the flow.
bool SendToClient(Proxy* p, Flow* f, mmsghdr* msgs, int count) {
  union {
    cmsghdr align;
    unsigned char bytes[CMSG_SPACE(sizeof(in6_pktinfo))];
  } control;
  std::memset(&control, 0, sizeof(control));
  size_t control_len = 0;
  if (f->pktinfo_level == IPPROTO_IP) {
    control.align.cmsg_level = IPPROTO_IP;
    control.align.cmsg_type = IP_PKTINFO;
    control.align.cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    std::memcpy(CMSG_DATA(&control.align), &f->pktinfo4, sizeof(in_pktinfo));
    control_len = CMSG_SPACE(sizeof(in_pktinfo));
  } else if (f->pktinfo_level == IPPROTO_IPV6) {
    control.align.cmsg_level = IPPROTO_IPV6;
    control.align.cmsg_type = IPV6_PKTINFO;
    control.align.cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    std::memcpy(CMSG_DATA(&control.align), &f->pktinfo6, sizeof(in6_pktinfo));
    control_len = CMSG_SPACE(sizeof(in6_pktinfo));
  }
  for (int i = 0; i < count; ++i) {
    msghdr& h = msgs[i].msg_hdr;
    h.msg_name = &f->client;
    h.msg_namelen = f->client_len;
    h.msg_control = control_len > 0 ? control.bytes : nullptr;
    h.msg_controllen = control_len;
  }
  int sent = 0;
  while (sent < count) {
    int n = sendmmsg(p->front_fd, msgs + sent, static_cast<unsigned>(count - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += n;
      continue;
    }
    const int error = n < 0 ? errno : EIO;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
      p->counters.dropped_send_queue_full += static_cast<uint64_t>(count - sent);
      return true;
    }
    DropForError(p, error, static_cast<uint64_t>(count - sent));
    Warn(p, "reply", error);
    EndFlow(p, f, Reason::kClosed);
    return false;
  }
  return true;
}

void ReadBackend(Proxy* p, Flow* f) {
  Batch* b = p->batch;
  for (int round = 0; round < kRoundsPerWakeup; ++round) {
    PrepareReceive(b, false, false);
    int n = recvmmsg(f->fd, b->msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      const int error = errno;
      // The container is not listening (yet): an ICMP port-unreachable. Keep the flow, as Go does.
      if (error == EINTR || error == ECONNREFUSED) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) return;
      Warn(p, "backend", error);
      EndFlow(p, f, Reason::kClosed);
      return;
    }
    Touch(p, f);
    int keep = 0;
    for (int i = 0; i < n; ++i) {
      const unsigned length = b->msgs[i].msg_len;
      p->counters.datagrams_to_host++;
      p->counters.bytes_to_host += length;
      if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        p->counters.dropped_truncated++;
        continue;
      }
      b->iov[i].iov_len = length;
      if (keep != i) {
        b->msgs[keep] = b->msgs[i];
        b->msgs[keep].msg_hdr.msg_iov = &b->iov[i];
      }
      keep++;
    }
    if (keep > 0 && !SendToClient(p, f, b->msgs, keep)) return;
    if (n < kBatch) return;
  }
}

// Why a socket's poll failed: libuv reports EPOLLERR as UV_EBADF and stops the poll. Reading
// SO_ERROR also clears the error, so the poll can be restarted.
int SocketError(int fd, int status) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error != 0 ? error : (status == UV_EBADF ? 0 : -status);
}

void OnFlowPoll(uv_poll_t* poll, int status, int events) {
  Flow* f = static_cast<Flow*>(poll->data);
  Proxy* p = f->proxy;
  if (p->closing) return;
  if (status < 0) {
    // A connected UDP socket reports an ICMP port-unreachable as EPOLLERR: ignore it and go on.
    const int error = SocketError(f->fd, status);
    int rc = 0;
    if ((error != 0 && error != ECONNREFUSED) || (rc = uv_poll_start(&f->poll, UV_READABLE, OnFlowPoll)) != 0) {
      Warn(p, "backend", rc != 0 ? -rc : error);
      EndFlow(p, f, Reason::kClosed);
      return FlushWarnings(p);
    }
    events = UV_READABLE;
  }
  if (events & UV_READABLE) ReadBackend(p, f);
  FlushWarnings(p);
}

void OnFrontPoll(uv_poll_t* poll, int status, int events) {
  Proxy* p = static_cast<Proxy*>(poll->data);
  if (p->closing) return;
  if (status < 0) {
    const int error = SocketError(p->front_fd, status);
    if (error != 0) Warn(p, "frontend", error);
    if (int rc = uv_poll_start(&p->front_poll, UV_READABLE, OnFrontPoll)) {
      Warn(p, "frontend", -rc);
      return FlushWarnings(p);
    }
    events = UV_READABLE;
  }
  if (events & UV_READABLE) ReadFrontend(p);
  FlushWarnings(p);
}

// Once every handle is closed libuv holds no pointer into the proxy: free it.
void MaybeFree(Proxy* p) {
  if (!p->closing || p->closing_handles > 0) return;
  if (p->front_fd >= 0) close(p->front_fd);
  p->front_fd = -1;
  if (p->batch != nullptr) ReleaseBatch();
  p->js.RemoveCleanupHook();
  delete p;
}

// Stops everything at once (docker-proxy's "ungraceful" Close): the frontend, the timer, every flow.
void CloseProxy(Proxy* p) {
  if (p->closing) return;
  while (p->head != nullptr) EndFlow(p, p->head, Reason::kClosed);
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

// Parses an IP literal of `family` (4, 6, or 0 for either) into `out` with `port`.
bool ParseAddress(const std::string& text, int family, int port, sockaddr_storage* out, socklen_t* length) {
  std::memset(out, 0, sizeof(*out));
  sockaddr_in* sin = reinterpret_cast<sockaddr_in*>(out);
  if (family != 6 && inet_pton(AF_INET, text.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    *length = sizeof(sockaddr_in);
    return true;
  }
  sockaddr_in6* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  if (family != 4 && inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    *length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

struct SocketFailure {
  int error;
  const char* syscall;
  std::string message;
};

bool ConfigureFrontend(int fd, int domain, SocketFailure* failure) {
  // Best effort, never an error: the kernel default works, only with more loss under bursts.
  const int size = kFrontendReceiveBuffer;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  const int on = 1;
  const bool v6 = domain == AF_INET6;
  if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_RECVPKTINFO : IP_PKTINFO, &on, sizeof(on)) == 0) {
    return true;
  }
  *failure = {errno, "setsockopt", v6 ? "failed to setsockopt(IPV6_RECVPKTINFO)" : "failed to setsockopt(IP_PKTINFO)"};
  return false;
}

// -use-listen-fd: the engine's bound UDP socket, checked as docker-proxy checks it.
int AdoptSocket(int fd, int family, SocketFailure* failure) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *failure = {errno, "fstat", "fd " + std::to_string(fd) + " is not open (-use-listen-fd needs the socket on fd 4)"};
    return -1;
  }
  int type = 0, domain = 0, protocol = 0;
  socklen_t length = sizeof(int);
  if (!S_ISSOCK(st.st_mode) || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) != 0 ||
      type != SOCK_DGRAM || (domain != AF_INET && domain != AF_INET6) || protocol != IPPROTO_UDP) {
    *failure = {ENOTSOCK, "getsockopt", "fd " + std::to_string(fd) + " is not a UDP socket"};
    return -1;
  }
  if (domain != (family == 4 ? AF_INET : AF_INET6)) {
    *failure = {EAFNOSUPPORT, "getsockopt",
                std::string("an IPv") + (domain == AF_INET ? "4" : "6") + " socket, but -host-ip is IPv" +
                    std::to_string(family)};
    return -1;
  }
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    *failure = {errno, "fcntl", "cannot make the socket non-blocking"};
    return -1;
  }
  // The v28+ engine sets it already; a test harness or an older engine may not have.
  if (!ConfigureFrontend(fd, domain, failure)) return -1;
  return fd;
}

int BindSocket(const sockaddr_storage& address, socklen_t length, SocketFailure* failure) {
  const int domain = address.ss_family;
  int fd = socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *failure = {errno, "socket", "cannot create the socket"};
    return -1;
  }
  const int on = 1;
  if (domain == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) {
    *failure = {errno, "setsockopt", "failed to setsockopt(IPV6_V6ONLY)"};
  } else if (ConfigureFrontend(fd, domain, failure)) {
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0) return fd;
    *failure = {errno, "bind", "bind failed"};
  }
  close(fd);
  return -1;
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
  js_link::OptionReader options(info);
  const int fd = static_cast<int>(options.Integer("listenFd", -1, INT_MAX));
  const int family = static_cast<int>(options.Integer("family", 4, 6));
  const std::string host = options.String("host");
  const int port = static_cast<int>(options.Integer("port", 0, 65535));
  const std::string backend_host = options.String("backendHost");
  const int backend_port = static_cast<int>(options.Integer("backendPort", 1, 65535));
  const double idle_timeout_ms = options.Integer("idleTimeoutMs", 1, 1e12);
  const double max_flows = options.Integer("maxFlows", 1, 1e9);
  const Napi::Function on_warn = options.Function("onWarn");
  if (!options.ok()) return Failure(env, EINVAL, "open", options.problem());
  sockaddr_storage front, backend;
  socklen_t front_len = 0, backend_len = 0;
  if ((family != 4 && family != 6) || !ParseAddress(host, family, port, &front, &front_len)) {
    return Failure(env, EINVAL, "open", "the host address is not an IP of the family");
  }
  if (!ParseAddress(backend_host, 0, backend_port, &backend, &backend_len)) {
    return Failure(env, EINVAL, "open", "the backend address is not an IP");
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    return Failure(env, EINVAL, "open", "no event loop");
  }
  SocketFailure failure{0, "", ""};
  const int front_fd = fd >= 0 ? AdoptSocket(fd, family, &failure) : BindSocket(front, front_len, &failure);
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
  p->backend = backend;
  p->backend_len = backend_len;
  p->idle_ms = static_cast<uint64_t>(idle_timeout_ms);
  p->max_flows = static_cast<size_t>(max_flows);
  p->flows.reserve(p->max_flows < 1024 ? p->max_flows : 1024);
  p->timer.data = p;
  p->front_poll.data = p;
  int rc = uv_timer_init(loop, &p->timer);
  p->timer_open = rc == 0;
  if (rc == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(&p->timer));  // like the JS path's unref'd timer
    rc = uv_poll_init(loop, &p->front_poll, front_fd);
    p->front_poll_open = rc == 0;
  }
  if (rc == 0) rc = uv_poll_start(&p->front_poll, UV_READABLE, OnFrontPoll);
  if (rc != 0) {
    if (fd >= 0) p->front_fd = -1;  // not adopted after all: the caller still owns it
    CloseProxy(p);
    return Failure(env, -rc, "uv_poll_init", "cannot poll the socket");
  }
  return Launch(env, p, on_warn);
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

}  // namespace
}  // namespace udp_proxy

using UdpProxyAddon = udp_proxy::Addon;
NODE_API_ADDON(UdpProxyAddon)
