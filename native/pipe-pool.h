// Kernel pipes for splice(2). A relay direction takes one only while it moves a bulk flow, and gives
// it back as soon as the pipe is empty and the source socket has nothing more to read (splice.cc).
// A small pool reuses them across directions and connections, saving pipe2 + F_SETPIPE_SZ + two
// closes each time (the same idea as HAProxy's `maxpipes` and Go's pipe pool).
#ifndef DOCKER_PROXY_PIPE_POOL_H_
#define DOCKER_PROXY_PIPE_POOL_H_

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <vector>

namespace splice_relay {

constexpr size_t kMinPipeSize = 4096;
constexpr size_t kMaxPoolSize = 1024;

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  size_t capacity = 0;      // what the kernel granted, not what was asked for
  unsigned generation = 0;  // the pool configuration it was opened under
};

inline void ClosePipe(Pipe* pipe) {
  if (pipe->read_fd >= 0) close(pipe->read_fd);
  if (pipe->write_fd >= 0) close(pipe->write_fd);
  *pipe = Pipe{};
}

// The largest size an unprivileged F_SETPIPE_SZ may ask for; sizes are clamped to it.
inline size_t ReadPipeMaxSize() {
  unsigned long value = 0;
  if (FILE* file = fopen("/proc/sys/fs/pipe-max-size", "re")) {
    if (fscanf(file, "%lu", &value) != 1) value = 0;
    fclose(file);
  }
  return value >= kMinPipeSize ? value : 1 << 20;  // the kernel's default limit
}

// Opens a non-blocking pipe and grows it to `size` (F_SETPIPE_SZ returns the granted capacity, so a
// successful grow costs no F_GETPIPE_SZ). A refused F_SETPIPE_SZ (EPERM once the user is past
// /proc/sys/fs/pipe-user-pages-soft, EBUSY, ENOMEM) keeps the smaller default: splice works with any
// capacity, only less efficiently. Returns 0 or an errno.
inline int OpenPipe(size_t size, Pipe* out) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return errno;
  int capacity = fcntl(fds[0], F_SETPIPE_SZ, static_cast<int>(size));
  if (capacity <= 0) capacity = fcntl(fds[0], F_GETPIPE_SZ);
  out->read_fd = fds[0];
  out->write_fd = fds[1];
  out->capacity = capacity > 0 ? static_cast<size_t>(capacity) : kMinPipeSize;
  return 0;
}

class PipePool {
 public:
  PipePool() = default;
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool() { Trim(0); }

  // An empty pipe from the pool, else a new one. Returns 0 or the errno of pipe2 (EMFILE, ENFILE).
  int Acquire(Pipe* out) {
    if (idle_.empty()) {
      if (int error = OpenPipe(pipe_size_, out)) return error;
      out->generation = generation_;
    } else {
      *out = idle_.back();
      idle_.pop_back();
    }
    held_++;
    return 0;
  }

  // Takes back a pipe from Acquire, or closes it. Only a provably empty pipe of the current size is
  // kept: a byte left in it would be delivered to whichever connection gets it next.
  void Release(Pipe* pipe) {
    if (pipe->read_fd < 0) return;
    held_--;
    int queued = -1;
    if (pipe->generation == generation_ && idle_.size() < max_idle_ &&
        ioctl(pipe->read_fd, FIONREAD, &queued) == 0 && queued == 0) {
      idle_.push_back(*pipe);
      *pipe = Pipe{};
      return;
    }
    ClosePipe(pipe);
  }

  // Closes a pipe from Acquire that may still hold bytes (its connection failed).
  void Discard(Pipe* pipe) {
    if (pipe->read_fd < 0) return;
    held_--;
    ClosePipe(pipe);
  }

  void Configure(size_t pipe_size, size_t max_idle) {
    if (pipe_size != pipe_size_) {  // pooled and held pipes have the old size
      Trim(0);
      generation_++;
    }
    pipe_size_ = pipe_size;
    max_idle_ = max_idle;
    Trim(max_idle_);
  }

  size_t pipe_size() const { return pipe_size_; }
  size_t max_idle() const { return max_idle_; }
  size_t idle() const { return idle_.size(); }
  size_t held() const { return held_; }

 private:
  void Trim(size_t keep) {
    while (idle_.size() > keep) {
      ClosePipe(&idle_.back());
      idle_.pop_back();
    }
  }

  std::vector<Pipe> idle_;
  size_t pipe_size_ = 1 << 20;
  size_t max_idle_ = 0;
  size_t held_ = 0;  // acquired and not yet released or discarded
  unsigned generation_ = 0;
};

}  // namespace splice_relay

#endif  // DOCKER_PROXY_PIPE_POOL_H_
