// Client -> container: datagrams read from the frontend in batches, each client's run of them
// sent on its flow's connected backend socket with one sendmmsg. A new client gets a flow whose
// replies to-host.h carries back.
#ifndef DOCKER_PROXY_UDP_TO_CONTAINER_H_
#define DOCKER_PROXY_UDP_TO_CONTAINER_H_

#include <uv.h>

#include <errno.h>
#include <sys/socket.h>

#include <cstdint>

#include "batch.h"
#include "flows.h"
#include "pktinfo.h"
#include "proxy.h"
#include "socket-setup.h"
#include "to-host.h"

namespace udp_proxy {

// Sends msgs [0, count), which all belong to `f`. A port-unreachable caused by an earlier
// datagram is reported by the next send and consumes the error without sending: send again, once.
inline void SendToBackend(Proxy* p, Flow* f, mmsghdr* msgs, int count) {
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
    DropForError(&p->counters, error, 1);
    Warn(p, "backend-send", error);
    sent++;
    retried = false;
  }
}

inline void ReadFrontend(Proxy* p) {
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
      Flow* f = p->flows.Find(key);
      if (f == nullptr) {
        f = OpenFlow(p, key, b->names[i], received.msg_namelen, OnFlowPoll);
        if (f == nullptr) continue;
        RecordReplySource(&received, &f->reply_source);
      } else {
        p->flows.Touch(f, uv_now(p->loop));
      }
      group = f;
      start = i;
    }
    if (group != nullptr) SendToBackend(p, group, b->msgs + start, n - start);
    if (n < kBatch) return;
  }
}

inline void OnFrontPoll(uv_poll_t* poll, int status, int events) {
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

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_TO_CONTAINER_H_
