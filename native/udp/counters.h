// What a proxy counts, and stats(), its JS form. Each counter is a named field reported under its
// own name, so adding one moves nothing on the TypeScript side (src/proxy/udp/native-udp-proxy.ts).
#ifndef DOCKER_PROXY_UDP_COUNTERS_H_
#define DOCKER_PROXY_UDP_COUNTERS_H_

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "../js-args.h"

namespace udp_proxy {

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

// `count` datagrams lost to `error` (no entry for none: stats() lists only errors that happened).
inline void DropForError(Counters* counters, int error, uint64_t count) {
  if (count > 0) counters->dropped_by_errno[error] += count;
}

// The JS form of stats(), field by field. Null if no object can be made.
inline napi_value TotalsObject(napi_env env, const Totals& totals) {
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

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_COUNTERS_H_
