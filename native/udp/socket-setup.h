// Sockets: the frontend, bound here or adopted from the engine (-use-listen-fd, checked as
// docker-proxy checks it), one connected backend socket per flow, and what a failed poll means.
// Plain POSIX: nothing here knows of JS or of the flow table.
#ifndef DOCKER_PROXY_UDP_SOCKET_SETUP_H_
#define DOCKER_PROXY_UDP_SOCKET_SETUP_H_

#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace udp_proxy {

// Frontend receive buffer asked for (the kernel caps it at net.core.rmem_max): a burst, or a few ms
// without CPU on a busy host, overflows the default (~208 KiB, ~270 small datagrams) and loses them.
constexpr int kFrontendReceiveBuffer = 4 << 20;

// Parses an IP literal of `family` (4, 6, or 0 for either) into `out` with `port`.
inline bool ParseAddress(const std::string& text, int family, int port, sockaddr_storage* out, socklen_t* length) {
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

// Why a socket could not be set up, for the failure object open() returns.
struct SocketFailure {
  int error;
  const char* syscall;
  std::string message;
};

// What the frontend needs beyond a bound UDP socket: a larger receive buffer and PKTINFO.
inline bool ConfigureFrontend(int fd, int domain, SocketFailure* failure) {
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
inline int AdoptSocket(int fd, int family, SocketFailure* failure) {
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

// The frontend bound here (no -use-listen-fd); an IPv6 one is IPV6_V6ONLY, so [::] takes no IPv4.
inline int BindSocket(const sockaddr_storage& address, socklen_t length, SocketFailure* failure) {
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

// A socket connected to the backend, for one flow: the kernel then picks its source port, and only
// the backend's datagrams reach it. Returns 0 with `*fd` set, or the errno.
inline int DialBackend(const sockaddr_storage& backend, socklen_t length, int* fd) {
  *fd = socket(backend.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (*fd < 0) return errno;
  if (connect(*fd, reinterpret_cast<const sockaddr*>(&backend), length) == 0) return 0;
  const int error = errno;
  close(*fd);
  *fd = -1;
  return error;
}

// Why a socket's poll failed: libuv reports EPOLLERR as UV_EBADF and stops the poll. Reading
// SO_ERROR also clears the error, so the poll can be restarted.
inline int SocketError(int fd, int status) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error != 0 ? error : (status == UV_EBADF ? 0 : -status);
}

}  // namespace udp_proxy

#endif  // DOCKER_PROXY_UDP_SOCKET_SETUP_H_
