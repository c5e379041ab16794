// Relay between two connected TCP sockets, driven by libuv polls on Node's own event loop. Small
// messages are copied (recv into a stack buffer, send straight on); a bulk flow is spliced through a
// kernel pipe that the direction holds only while the flow lasts. Design and measurements:
// docs/design/node-facts.md §1.3. JS API (all failures are returned, never thrown):
//   start(clientFd, backendFd, onDone) -> SpliceRelay | { errno, syscall, message }
//   onDone(errno, syscall, totals)   errno 0: clean end; totals as stats() gives them
//   SpliceRelay#stats() -> { hostToContainer, containerToHost }   bytes read from the client and
//                          from the backend;  SpliceRelay#abort()
//   configure(pipeSize, poolSize) -> info();  info() -> { live, pooled, pipeSize, poolSize, ... }
//
// Per direction (source socket -> destination socket), each wake-up:
//   1. Drain what the direction holds: the unsent rest of a copied chunk (`carry`), then the pipe.
//      Nothing more is read while anything is held, so memory stays bounded and order is kept.
//   2. Read. Copy mode (the default): recv() up to kCopyBytes into a stack buffer and send() it on;
//      what the destination does not take waits in `carry` (heap, at most kCopyBytes). A recv that
//      fills the buffer marks the flow as bulk. Bulk mode: take a pipe (pool or pipe2) and splice
//      socket -> pipe -> socket. When the source has nothing more (EAGAIN) with the pipe empty, the
//      pipe goes back to the pool at once, so an idle connection holds no pipe at all; a wake-up that
//      spliced less than kCopyBytes returns the direction to copy mode (the HAProxy splice-auto idea).
//   If no pipe can be had (EMFILE/ENFILE), the direction keeps copying and tries again later.
// The pipe is always drained before it is refilled, so EAGAIN from the source splice means "socket
// empty" and never "pipe full": the classic splice ambiguity cannot arise.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <new>

#include "js-args.h"
#include "js-link.h"
#include "pipe-pool.h"

namespace splice_relay {
namespace {

using js_link::Failure;
using js_link::IsInteger;

constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
// Fill-and-drain rounds per wake-up and direction: bounds how long one busy connection holds the
// event loop (at most this many pipe-fulls or copy buffers) before other handles get their turn.
constexpr int kRoundsPerWakeup = 4;
// The copy buffer: a read shorter than this is a small message and is copied; a full one is bulk.
constexpr size_t kCopyBytes = 16 * 1024;
// After a failed pipe2, copy rounds (kCopyBytes each) before a bulk flow asks for a pipe again.
constexpr int kPipeRetryRounds = 64;
constexpr size_t kDefaultPoolSize = 16;

class RelayHandle;

// The live relays of one Node environment (the main thread or a worker), plus its pipe pool.
struct Shared {
  PipePool pool;
  size_t pipe_max_size = 0;
  size_t live = 0;
  uint64_t pipe_failures = 0;  // pipe2 refused a bulk flow a pipe: it was copied instead
  uint64_t copied_bytes = 0;   // read with recv() (copy mode)
  uint64_t spliced_bytes = 0;  // read with splice() into a pipe (bulk mode)
};

// One direction: reads sockets[i], writes sockets[1 - i].
struct Direction {
  Pipe pipe;                // held only while a bulk flow is being spliced (read_fd < 0: none)
  size_t pending = 0;       // bytes in the pipe: spliced in, not yet spliced out
  char* carry = nullptr;    // bytes received in copy mode that the destination has not taken yet
  size_t carry_at = 0;      // where the unsent bytes start in `carry`
  size_t carry_size = 0;    // unsent bytes in `carry`
  uint64_t bytes = 0;       // bytes read from the source socket
  int pipe_retry_in = 0;    // copy rounds to go before pipe2 is tried again
  bool bulk = false;        // the last read filled the copy buffer: splice the next one
  bool reading = true;      // the source has not reached EOF or failed
  bool done = false;        // the destination was shut for writing, or it failed
  size_t held() const { return pending + carry_size; }
};

struct Relay {
  Shared* shared = nullptr;  // null once the environment is being torn down
  js_link::JsState<RelayHandle> js;  // onDone; the JS object is kept alive while running
  uv_poll_t polls[2];
  int sockets[2] = {-1, -1};  // our dup()s: 0 = client, 1 = backend
  int masks[2] = {0, 0};      // what each poll is armed for
  int polls_open = 0;
  Direction dirs[2];  // 0: client -> backend (hostToContainer), 1: backend -> client
  int error = 0;
  const char* syscall = nullptr;
  bool finishing = false;
  bool notify = false;  // call onDone once the polls have closed
};

// Bytes read from each socket: what stats() and onDone report.
struct RelayTotals {
  uint64_t host_to_container = 0;  // from the client
  uint64_t container_to_host = 0;  // from the backend
};

class RelayHandle : public js_link::Handle<RelayHandle, Relay, RelayTotals> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SpliceRelay",
                       {InstanceMethod<&RelayHandle::Stats>("stats"),
                        InstanceMethod<&RelayHandle::Abort>("abort")});
  }
  explicit RelayHandle(const Napi::CallbackInfo& info) : Handle(info) {}
  static RelayTotals Read(const Relay& relay);

 private:
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
};

void OnPoll(uv_poll_t* poll, int status, int events);
void OnClosed(uv_handle_t* handle);

void SetError(Relay* r, int error, const char* syscall) {
  if (r->error != 0) return;
  r->error = error;
  r->syscall = syscall;
}

// Socket `side` is gone (reset, EPIPE...): nothing more is read from it or written to it. Bytes
// already read from it still reach the other side, which is then shut for writing, as the stream
// relay does with end().
void SocketFailed(Relay* r, int side, int error, const char* syscall) {
  SetError(r, error, syscall);
  r->dirs[side].reading = false;
  Direction& towards = r->dirs[1 - side];
  towards.reading = false;
  towards.done = true;
}

// The relay itself cannot go on (no memory): both directions end now.
void RelayFailed(Relay* r, int error, const char* syscall) {
  SetError(r, error, syscall);
  for (Direction& dir : r->dirs) {
    dir.reading = false;
    dir.done = true;
  }
}

void Finish(Relay* r) {
  if (r->finishing) return;
  r->finishing = true;
  for (uv_poll_t& poll : r->polls) {
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), OnClosed);
  }
}

void FreeCarry(Direction* dir) {
  delete[] dir->carry;
  dir->carry = nullptr;
  dir->carry_at = dir->carry_size = 0;
}

// Gives the direction's pipe back: to the pool when empty, else (its connection failed with bytes
// still in it) closed. Without the pool (environment teardown) it is closed either way.
void ReleasePipe(Relay* r, Direction* dir) {
  if (dir->pipe.read_fd < 0) return;
  if (r->shared == nullptr) {
    ClosePipe(&dir->pipe);
  } else if (dir->pending == 0) {
    r->shared->pool.Release(&dir->pipe);
  } else {
    r->shared->pool.Discard(&dir->pipe);
  }
  dir->pending = 0;
}

// A pipe for a bulk flow. False (and the direction keeps copying) while pipe2 fails or after it
// failed recently: the connection must not suffer from a full fd table, only go slower.
bool TakePipe(Relay* r, Direction* dir) {
  if (dir->pipe.read_fd >= 0) return true;
  if (r->shared == nullptr) return false;
  if (dir->pipe_retry_in > 0) {
    dir->pipe_retry_in--;
    return false;
  }
  if (r->shared->pool.Acquire(&dir->pipe) != 0) {
    r->shared->pipe_failures++;
    dir->pipe_retry_in = kPipeRetryRounds;
    return false;
  }
  return true;
}

// Sends what direction `d` holds (a copied rest, then the pipe) to its destination. True once
// nothing is held; false if the destination would block or failed.
bool Drain(Relay* r, int d) {
  Direction& dir = r->dirs[d];
  const int destination = r->sockets[1 - d];
  while (dir.carry_size > 0) {
    ssize_t n = send(destination, dir.carry + dir.carry_at, dir.carry_size, kSendFlags);
    if (n > 0) {
      dir.carry_at += static_cast<size_t>(n);
      dir.carry_size -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return false;  // destination full: Settle() waits for it to become writable
    } else {
      SocketFailed(r, 1 - d, n < 0 ? errno : EIO, "send");
      return false;
    }
  }
  if (dir.carry != nullptr) FreeCarry(&dir);
  while (dir.pending > 0) {
    ssize_t n = splice(dir.pipe.read_fd, nullptr, destination, nullptr, dir.pending, kSpliceFlags);
    if (n > 0) {
      dir.pending -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return false;
    } else {
      SocketFailed(r, 1 - d, n < 0 ? errno : EIO, "splice");
      return false;
    }
  }
  return true;
}

// Sends a chunk just received in copy mode; what the destination does not take now goes to carry.
void Forward(Relay* r, int d, const char* data, size_t size) {
  Direction& dir = r->dirs[d];
  const int destination = r->sockets[1 - d];
  size_t sent = 0;
  while (sent < size) {
    ssize_t n = send(destination, data + sent, size - sent, kSendFlags);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      break;
    } else {
      SocketFailed(r, 1 - d, n < 0 ? errno : EIO, "send");
      return;
    }
  }
  if (sent == size) return;
  dir.carry = new (std::nothrow) char[size - sent];
  if (dir.carry == nullptr) return RelayFailed(r, ENOMEM, "new");
  memcpy(dir.carry, data + sent, size - sent);
  dir.carry_at = 0;
  dir.carry_size = size - sent;
}

// Moves bytes for direction `d` until a side would block, the source ends, or the wake-up budget is
// spent. `peer_closed`: the poll saw the source's FIN (EPOLLRDHUP), so a short read is followed by
// one more to collect the EOF now rather than at the next wake-up.
void Pump(Relay* r, int d, bool peer_closed) {
  Direction& dir = r->dirs[d];
  const int source = r->sockets[d];
  size_t spliced = 0;      // in this wake-up
  bool source_dry = false;  // the source said EAGAIN: it has nothing more right now
  for (int round = 0; round < kRoundsPerWakeup && !dir.done; ++round) {
    if (!Drain(r, d)) return;
    if (!dir.reading) break;
    if (dir.bulk && TakePipe(r, &dir)) {
      ssize_t n;
      do {
        n = splice(source, nullptr, dir.pipe.write_fd, nullptr, dir.pipe.capacity, kSpliceFlags);
      } while (n < 0 && errno == EINTR);
      if (n > 0) {
        dir.pending = static_cast<size_t>(n);
        dir.bytes += static_cast<uint64_t>(n);
        if (r->shared != nullptr) r->shared->spliced_bytes += static_cast<uint64_t>(n);
        spliced += static_cast<size_t>(n);
        continue;
      }
      if (n == 0) {
        dir.reading = false;  // FIN from the source
        break;
      }
      if (errno != EAGAIN) return SocketFailed(r, d, errno, "splice");
      if (spliced < kCopyBytes) dir.bulk = false;  // the flow has slowed down: copy again
      source_dry = true;  // and the pipe is empty: it goes back below
      break;
    }
    char buffer[kCopyBytes];
    ssize_t n;
    do {
      n = recv(source, buffer, sizeof buffer, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      dir.reading = false;
      break;
    }
    if (n < 0) {
      if (errno != EAGAIN) return SocketFailed(r, d, errno, "recv");
      source_dry = true;
      break;
    }
    dir.bytes += static_cast<uint64_t>(n);
    if (r->shared != nullptr) r->shared->copied_bytes += static_cast<uint64_t>(n);
    Forward(r, d, buffer, static_cast<size_t>(n));
    dir.bulk = static_cast<size_t>(n) == sizeof buffer;
    // A short read took all the socket had: wait for the next poll rather than pay for an EAGAIN.
    if (!dir.bulk && !peer_closed) return;
  }
  // The pipe goes back as soon as it is empty and the source has nothing more (EAGAIN or EOF). When
  // the loop ran out of budget instead, it holds bytes or the source may have more: it is kept.
  if (dir.pending == 0 && (source_dry || !dir.reading)) ReleasePipe(r, &dir);
}

// Passes finished directions on as shutdown(SHUT_WR), then either finishes the relay or arms each
// poll for exactly what its socket is waited on for: READABLE (with DISCONNECT, to see a FIN early)
// while its outbound direction holds nothing, WRITABLE while its inbound direction holds bytes.
// Never READABLE while bytes are held: a level-triggered poll would spin on data that cannot move.
void Settle(Relay* r) {
  if (r->finishing) return;
  bool changed = true;
  while (changed) {  // a failed shutdown can end the other direction too
    changed = false;
    for (int d = 0; d < 2; ++d) {
      Direction& dir = r->dirs[d];
      if (dir.done || dir.reading || dir.held() > 0) continue;
      dir.done = true;
      changed = true;
      ReleasePipe(r, &dir);  // empty: its source failed while it was splicing
      if (shutdown(r->sockets[1 - d], SHUT_WR) != 0 && errno != ENOTCONN) {
        SocketFailed(r, 1 - d, errno, "shutdown");
      }
    }
  }
  if (r->dirs[0].done && r->dirs[1].done) return Finish(r);
  for (int side = 0; side < 2; ++side) {
    const Direction& out = r->dirs[side];
    const Direction& in = r->dirs[1 - side];
    int mask = 0;
    if (!out.done && out.reading && out.held() == 0) mask |= UV_READABLE | UV_DISCONNECT;
    if (!in.done && in.held() > 0) mask |= UV_WRITABLE;
    if (mask == r->masks[side]) continue;
    int rc = mask != 0 ? uv_poll_start(&r->polls[side], mask, OnPoll) : uv_poll_stop(&r->polls[side]);
    if (rc != 0) {
      SetError(r, -rc, "uv_poll_start");
      return Finish(r);
    }
    r->masks[side] = mask;
  }
  if (r->masks[0] == 0 && r->masks[1] == 0) {  // unreachable by the invariants above; never hang
    SetError(r, EIO, "splice_relay");
    Finish(r);
  }
}

void OnPoll(uv_poll_t* poll, int status, int events) {
  Relay* r = static_cast<Relay*>(poll->data);
  const int side = poll == &r->polls[0] ? 0 : 1;
  if (status < 0) {
    // libuv reports EPOLLERR as UV_EBADF and stops the poll; the socket knows the real cause.
    r->masks[side] = 0;
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(r->sockets[side], SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error == 0) {
      error = -status;
    }
    SocketFailed(r, side, error, "poll");
  } else {
    if (events & UV_READABLE) Pump(r, side, (events & UV_DISCONNECT) != 0);
    if (events & UV_WRITABLE) Pump(r, 1 - side, false);
  }
  Settle(r);
}

void ReleaseResources(Relay* r) {
  for (int& fd : r->sockets) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  for (Direction& dir : r->dirs) {
    ReleasePipe(r, &dir);
    FreeCarry(&dir);
  }
}

// What stats() and onDone report, by name: a new counter is one more field, never a new position.
// Null if no object can be made (see js_link::NewObject).
napi_value TotalsObject(napi_env env, const RelayTotals& totals) {
  napi_value out = js_link::NewObject(env);
  if (out == nullptr) return nullptr;
  js_link::SetCount(env, out, "hostToContainer", totals.host_to_container);
  js_link::SetCount(env, out, "containerToHost", totals.container_to_host);
  return out;
}

void CallOnDone(Relay* r) {
  if (r->js.handle != nullptr) r->js.handle->Detach();
  r->js.link.Call([r](napi_env env, napi_value* argv) -> size_t {
    napi_create_int32(env, r->error, &argv[0]);
    if (r->syscall != nullptr) {
      napi_create_string_utf8(env, r->syscall, NAPI_AUTO_LENGTH, &argv[1]);
    } else {
      napi_get_null(env, &argv[1]);
    }
    argv[2] = TotalsObject(env, RelayHandle::Read(*r));
    if (argv[2] == nullptr) napi_get_undefined(env, &argv[2]);  // JS then reads zeros
    return 3;
  });
}

// Both polls are closed, so libuv holds no reference to this relay: now the descriptors may close.
void OnClosed(uv_handle_t* handle) {
  Relay* r = static_cast<Relay*>(handle->data);
  if (--r->polls_open > 0) return;
  ReleaseResources(r);
  if (r->notify) CallOnDone(r);
  r->js.Release();
  if (r->shared != nullptr && r->notify) r->shared->live--;
  r->js.RemoveCleanupHook();
  delete r;
}

// The environment is exiting (worker termination): drop JS state now, while the env is still
// usable, and close the polls so that libuv's loop can close. No callback is made.
void OnEnvironmentTeardown(napi_async_cleanup_hook_handle, void* data) {
  Relay* r = static_cast<Relay*>(data);
  r->js.Release();
  if (r->shared != nullptr && r->notify) r->shared->live--;
  r->shared = nullptr;  // the pool goes away with the environment
  r->notify = false;
  Finish(r);
}

RelayTotals RelayHandle::Read(const Relay& relay) {
  return {relay.dirs[0].bytes, relay.dirs[1].bytes};
}

Napi::Value RelayHandle::Stats(const Napi::CallbackInfo& info) {
  return Napi::Value(info.Env(), TotalsObject(info.Env(), totals()));
}

Napi::Value RelayHandle::Abort(const Napi::CallbackInfo& info) {
  Relay* relay = native();
  if (relay != nullptr && !relay->finishing) {
    SetError(relay, ECANCELED, "abort");
    Finish(relay);
  }
  return info.Env().Undefined();
}

// Frees a relay that never started: synchronously if no poll was initialised, else via OnClosed.
void Discard(Relay* r) {
  r->notify = false;
  if (r->polls_open > 0) {
    r->finishing = true;
    for (int i = 0; i < r->polls_open; ++i) {  // polls are initialised in order: close only those
      uv_close(reinterpret_cast<uv_handle_t*>(&r->polls[i]), OnClosed);
    }
    return;
  }
  ReleaseResources(r);
  delete r;
}

bool IsFd(const Napi::Value& value) {
  return IsInteger(value, 0, INT_MAX);
}

// Only TCP: a Unix socketpair (as in a child's stdio) is a stream socket too, and not ours to relay.
// One syscall: SO_PROTOCOL fails with ENOTSOCK on anything that is not a socket.
bool IsTcpSocket(int fd) {
  int protocol = 0;
  socklen_t length = sizeof(protocol);
  return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_TCP;
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    relay_class_ = Napi::Persistent(RelayHandle::Define(env));
    shared_.pipe_max_size = ReadPipeMaxSize();
    shared_.pool.Configure(shared_.pipe_max_size < (1u << 20) ? shared_.pipe_max_size : 1u << 20,
                           kDefaultPoolSize);
    DefineAddon(exports, {InstanceMethod<&Addon::Start>("start"),
                          InstanceMethod<&Addon::Configure>("configure"),
                          InstanceMethod<&Addon::Info>("info")});
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Configure(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Launch(Napi::Env env, Relay* r, const Napi::Function& on_done);

  Napi::FunctionReference relay_class_;
  Shared shared_;
};

Napi::Value Addon::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !IsFd(info[0]) || !IsFd(info[1]) || !info[2].IsFunction()) {
    return Failure(env, EINVAL, "start", "expected (clientFd, backendFd, onDone)");
  }
  const int fds[2] = {info[0].As<Napi::Number>().Int32Value(),
                      info[1].As<Napi::Number>().Int32Value()};
  if (fds[0] == fds[1] || !IsTcpSocket(fds[0]) || !IsTcpSocket(fds[1])) {
    return Failure(env, ENOTSOCK, "start", "both fds must be distinct TCP sockets");
  }
  Relay* r = new (std::nothrow) Relay();
  if (r == nullptr) return Failure(env, ENOMEM, "start", "cannot allocate the relay");
  r->shared = &shared_;
  // Poll duplicates, never the fds libuv watches for the JS sockets: libuv allows one watcher per
  // fd number, and each dup gets its own epoll registration.
  for (int i = 0; i < 2; ++i) {
    r->sockets[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (r->sockets[i] < 0) {
      int error = errno;
      Discard(r);
      return Failure(env, error, "fcntl", "cannot duplicate the socket");
    }
  }
  // No pipe yet: a direction takes one only when a bulk flow needs it (Pump).
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  for (int i = 0; i < 2; ++i) {
    int rc = loop != nullptr ? uv_poll_init(loop, &r->polls[i], r->sockets[i]) : UV_EINVAL;
    if (rc == 0) {
      r->polls[i].data = r;
      r->polls_open++;
      r->masks[i] = UV_READABLE | UV_DISCONNECT;
      rc = uv_poll_start(&r->polls[i], r->masks[i], OnPoll);
    }
    if (rc != 0) {
      Discard(r);
      return Failure(env, -rc, "uv_poll_init", "cannot poll the socket");
    }
  }
  return Launch(env, r, info[2].As<Napi::Function>());
}

// Creates the JS side of a started relay. From here on it ends only through Finish().
Napi::Value Addon::Launch(Napi::Env env, Relay* r, const Napi::Function& on_done) {
  Napi::Object object = r->js.Launch(env, relay_class_, "SpliceRelay", on_done, r, OnEnvironmentTeardown);
  if (object.IsEmpty()) {
    Discard(r);
    return Failure(env, ENOMEM, "start", "cannot create the relay object");
  }
  r->notify = true;
  shared_.live++;
  return object;
}

Napi::Value Addon::Configure(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !IsFd(info[0]) || !IsFd(info[1])) {
    return Failure(env, EINVAL, "configure", "expected (pipeSize, poolSize) as integers");
  }
  size_t size = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  size_t pool = static_cast<size_t>(info[1].As<Napi::Number>().DoubleValue());
  if (size < kMinPipeSize) size = kMinPipeSize;
  if (size > shared_.pipe_max_size) size = shared_.pipe_max_size;
  shared_.pool.Configure(size, pool < kMaxPoolSize ? pool : kMaxPoolSize);
  return Info(info);
}

Napi::Value Addon::Info(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("live", static_cast<double>(shared_.live));
  out.Set("pooled", static_cast<double>(shared_.pool.idle()));
  out.Set("pipeSize", static_cast<double>(shared_.pool.pipe_size()));
  out.Set("poolSize", static_cast<double>(shared_.pool.max_idle()));
  out.Set("pipeMaxSize", static_cast<double>(shared_.pipe_max_size));
  out.Set("pipesInUse", static_cast<double>(shared_.pool.held()));
  out.Set("pipeFailures", static_cast<double>(shared_.pipe_failures));
  out.Set("copiedBytes", static_cast<double>(shared_.copied_bytes));
  out.Set("splicedBytes", static_cast<double>(shared_.spliced_bytes));
  return out;
}

}  // namespace
}  // namespace splice_relay

using SpliceAddon = splice_relay::Addon;
NODE_API_ADDON(SpliceAddon)
