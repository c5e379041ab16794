// Where replies leave from. On a wildcard bind the kernel would pick the reply's source address
// itself, which need not be the address the client sent to (docker-proxy before v28 had that bug):
// each flow keeps the destination of its first datagram (IP_PKTINFO / IPV6_PKTINFO) and every reply
// carries it back as the source.
#ifndef DOCKER_PROXY_UDP_PKTINFO_H_
#define DOCKER_PROXY_UDP_PKTINFO_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstring>

namespace udp_proxy {

struct ReplySource {
  int level = 0;  // IPPROTO_IP or IPPROTO_IPV6; 0: no PKTINFO came, the kernel picks the source
  in_pktinfo v4;
  in6_pktinfo v6;
};

// A control message with one PKTINFO, aligned as CMSG_* expect.
union ReplyControl {
  cmsghdr align;
  unsigned char bytes[CMSG_SPACE(sizeof(in6_pktinfo))];
};

// Takes the reply source from a received message's PKTINFO, if it has one.
inline void RecordReplySource(const msghdr* h, ReplySource* out) {
  if (h->msg_control == nullptr) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(h), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      std::memset(&out->v4, 0, sizeof(out->v4));
      out->v4.ipi_spec_dst = info.ipi_addr;  // ifindex 0: let routing pick the interface
      out->level = IPPROTO_IP;
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      out->v6.ipi6_addr = info.ipi6_addr;
      // A link-local source only means something on the interface it came in on.
      out->v6.ipi6_ifindex = IN6_IS_ADDR_LINKLOCAL(&info.ipi6_addr) ? info.ipi6_ifindex : 0;
      out->level = IPPROTO_IPV6;
      return;
    }
  }
}

// Writes the control message that sends from `source` into `control`; returns its length, 0 if
// there is none to send.
inline size_t BuildReplyControl(const ReplySource& source, ReplyControl* control) {
  std::memset(control, 0, sizeof(*control));
  if (source.level == IPPROTO_IP) {
    control->align.cmsg_level = IPPROTO_IP;
    control->align.cmsg_type = IP_PKTINFO;
    control->align.cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    std::memcpy(CMSG_DATA(&control->align), &source.v4, sizeof(in_pktinfo));
    return CMSG_SPACE(sizeof(in_pktinfo));
  }
  if (source.level == IPPROTO_IPV6) {
    control->align.cmsg_level = IPPROTO_IPV6;
    control->align.cmsg_type = IPV6_PKTINFO;
    control->align.cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    std::memcpy(CMSG_DATA(&control->align), &source.v6, sizeof(in6_pktinfo));
    return CMSG_SPACE(sizeof(in6_pktinfo));
  }
  return 0;
}

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_PKTINFO_H_
