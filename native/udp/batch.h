// The buffers datagrams move through: one recvmmsg/sendmmsg batch of slots, with room for each
// datagram's source address and PKTINFO. Handling is synchronous (read a batch, send it, return),
// so one set per thread serves every proxy of a Node environment, and a flow never costs a buffer.
#ifndef DOCKER_PROXY_UDP_BATCH_H_
#define DOCKER_PROXY_UDP_BATCH_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace udp_proxy {

constexpr int kBatch = 32;           // datagrams per recvmmsg/sendmmsg
constexpr int kRoundsPerWakeup = 8;  // batches per readiness event: bounds one socket's hold on the loop
constexpr size_t kSlotSize = 65536;  // any UDP payload (65507 on IPv4, 65527 on IPv6) fits
constexpr size_t kControlSize = CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo));

struct Batch {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage names[kBatch];
  alignas(cmsghdr) unsigned char control[kBatch][kControlSize];
  unsigned char* data = nullptr;  // kBatch slots; the kernel faults pages in only as they are used
};

inline thread_local Batch* tls_batch = nullptr;
inline thread_local int tls_batch_users = 0;

// The thread's batch, made on first use; null if out of memory. Each call needs a ReleaseBatch().
inline Batch* AcquireBatch() {
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

// The last user frees it: a thread (worker) without proxies holds no 2 MiB.
inline void ReleaseBatch() {
  if (--tls_batch_users > 0 || tls_batch == nullptr) return;
  std::free(tls_batch->data);
  delete tls_batch;
  tls_batch = nullptr;
}

// Points every message at its slot; `name` and `control` ask for the source address and PKTINFO.
inline void PrepareReceive(Batch* b, bool name, bool control) {
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

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_BATCH_H_
