// The flow table: one flow per client address, found by that address, and kept in order of last
// activity. The least recently active flow is at the head: the first that can go idle (one timer
// for the whole table, flows.h) and the one evicted when the table is full.
#ifndef DOCKER_PROXY_UDP_FLOW_TABLE_H_
#define DOCKER_PROXY_UDP_FLOW_TABLE_H_

#include <uv.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "pktinfo.h"

namespace udp_proxy {

struct Proxy;

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

// The key of a source address; false for anything but IPv4 and IPv6.
inline bool KeyOf(const sockaddr_storage& ss, FlowKey* key) {
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

// One client's flow: its connected backend socket and where its replies go.
struct Flow {
  Proxy* proxy = nullptr;
  FlowKey key;
  sockaddr_storage client;
  socklen_t client_len = 0;
  ReplySource reply_source;  // fixed by the client's first datagram
  int fd = -1;
  uv_poll_t poll;
  uint64_t last_active = 0;
  Flow* prev = nullptr;  // towards the head: less recently active
  Flow* next = nullptr;
};

class FlowTable {
 public:
  Flow* Find(const FlowKey& key) const {
    auto found = by_key_.find(key);
    return found != by_key_.end() ? found->second : nullptr;
  }

  void Insert(Flow* f, uint64_t now) {
    by_key_.emplace(f->key, f);
    Append(f);
    f->last_active = now;
  }

  void Remove(Flow* f) {
    by_key_.erase(f->key);
    Unlink(f);
  }

  // The flow just moved a datagram: it becomes the most recently active.
  void Touch(Flow* f, uint64_t now) {
    f->last_active = now;
    if (tail_ == f) return;
    Unlink(f);
    Append(f);
  }

  Flow* oldest() const { return head_; }
  size_t size() const { return by_key_.size(); }
  void Reserve(size_t flows) { by_key_.reserve(flows); }

 private:
  void Unlink(Flow* f) {
    (f->prev != nullptr ? f->prev->next : head_) = f->next;
    (f->next != nullptr ? f->next->prev : tail_) = f->prev;
    f->prev = f->next = nullptr;
  }

  void Append(Flow* f) {
    f->prev = tail_;
    f->next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = f;
    tail_ = f;
  }

  std::unordered_map<FlowKey, Flow*, FlowKeyHash> by_key_;
  Flow* head_ = nullptr;
  Flow* tail_ = nullptr;
};

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_FLOW_TABLE_H_
