// Linux capability sets of the calling thread, with the raw capget/capset syscalls (no libcap: the
// whole need is two 64-bit masks). Capabilities belong to each thread, not to the process: these
// calls change the calling (main) thread only; credentials.h explains why that is enough.
#ifndef DOCKER_PROXY_HARDEN_CAPABILITIES_H_
#define DOCKER_PROXY_HARDEN_CAPABILITIES_H_

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "step.h"

namespace harden {

inline uint64_t CapBit(int cap) { return uint64_t{1} << cap; }

// The highest capability this kernel knows, from /proc (CAP_LAST_CAP of the headers may be older
// or newer than the running kernel). Falls back to the headers' value.
inline int LastCap() {
  int last = -1;
  if (FILE* file = fopen("/proc/sys/kernel/cap_last_cap", "re")) {
    if (fscanf(file, "%d", &last) != 1) last = -1;
    fclose(file);
  }
  return last >= 0 && last < 64 ? last : CAP_LAST_CAP;
}

// The calling thread's permitted set.
inline Step PermittedCaps(uint64_t* out) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return Step::Failed(errno, "capget");
  *out = uint64_t{data[0].permitted} | (uint64_t{data[1].permitted} << 32);
  return Step{};
}

// Sets the calling thread's permitted and effective sets to `keep` and its inheritable set to none.
inline Step SetThreadCaps(uint64_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int word = 0; word < 2; word++) {
    data[word].effective = data[word].permitted = static_cast<uint32_t>(keep >> (32 * word));
    data[word].inheritable = 0;
  }
  if (syscall(SYS_capset, &header, data) != 0) return Step::Failed(errno, "capset");
  return Step{};
}

// Removes every capability outside `keep` from the calling thread's bounding set, so that nothing
// it (or a thread it creates later) runs can gain them back. Needs CAP_SETPCAP.
inline Step DropBoundingSet(uint64_t keep) {
  for (int cap = 0, last = LastCap(); cap <= last; cap++) {
    if ((keep & CapBit(cap)) != 0) continue;
    // EINVAL: a capability this kernel does not have; nothing to drop.
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return Step::Failed(errno, "prctl(PR_CAPBSET_DROP)");
  }
  return Step{};
}

// Ambient capabilities would survive the change of user; there should be none, make sure.
inline Step ClearAmbient() {
  // EINVAL: a kernel before 4.3, which has no ambient set.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Step::Failed(errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  return Step{};
}

}  // namespace harden

#endif  // DOCKER_PROXY_HARDEN_CAPABILITIES_H_
