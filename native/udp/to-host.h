// Container -> client: datagrams read in batches from a flow's backend socket, sent on from the
// frontend socket to the flow's client, from the address the client sent to (pktinfo.h).
#ifndef DOCKER_PROXY_UDP_TO_HOST_H_
#define DOCKER_PROXY_UDP_TO_HOST_H_

#include <uv.h>

#include <errno.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "batch.h"
#include "flows.h"
#include "pktinfo.h"
#include "proxy.h"
#include "socket-setup.h"

namespace udp_proxy {

// Sends msgs [0, count) to the flow's client. Returns false if the flow ended: as in docker-proxy,
// a failed write towards the client ends the flow.
inline bool SendToClient(Proxy* p, Flow* f, mmsghdr* msgs, int count) {
  ReplyControl control;
  const size_t control_len = BuildReplyControl(f->reply_source, &control);
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
    DropForError(&p->counters, error, static_cast<uint64_t>(count - sent));
    Warn(p, "reply", error);
    EndFlow(p, f, Reason::kClosed);
    return false;
  }
  return true;
}

inline void ReadBackend(Proxy* p, Flow* f) {
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
    p->flows.Touch(f, uv_now(p->loop));
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

inline void OnFlowPoll(uv_poll_t* poll, int status, int events) {
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

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_TO_HOST_H_
