// Looking up the user to run as, and changing to it while keeping chosen capabilities.
//
// Node runs several threads (V8's platform workers, libuv's pool). glibc applies setgroups,
// setresgid and setresuid to every thread of the process (its SIGSETXID broadcast), so no thread
// stays root. Capabilities are per thread and glibc does not broadcast capset: the other threads
// simply lose all of theirs when their uid changes (they have no PR_SET_KEEPCAPS), and only the
// main thread, which binds sockets on reload, keeps the chosen ones. A thread created later is
// cloned from the main thread and starts with its (reduced) sets.
#ifndef DOCKER_PROXY_HARDEN_CREDENTIALS_H_
#define DOCKER_PROXY_HARDEN_CREDENTIALS_H_

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "capabilities.h"
#include "step.h"

namespace harden {

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
};

// getpwnam_r / getgrnam_r want a buffer whose size sysconf only suggests; ERANGE asks for more.
template <typename Lookup>
int WithGrowingBuffer(long suggested, Lookup lookup) {
  std::vector<char> buffer(suggested > 0 ? static_cast<size_t>(suggested) : 1024);
  for (;;) {
    int error = lookup(buffer.data(), buffer.size());
    if (error != ERANGE || buffer.size() >= (1u << 20)) return error;
    buffer.resize(buffer.size() * 2);
  }
}

// The user's uid and primary gid. Returns 0, ENOENT when there is no such user, or the lookup's errno.
inline int LookUpUser(const std::string& name, Account* out) {
  passwd entry{}, *found = nullptr;
  int error = WithGrowingBuffer(sysconf(_SC_GETPW_R_SIZE_MAX), [&](char* buffer, size_t size) {
    return getpwnam_r(name.c_str(), &entry, buffer, size, &found);
  });
  if (error != 0) return error;
  if (found == nullptr) return ENOENT;
  out->uid = entry.pw_uid;
  out->gid = entry.pw_gid;
  return 0;
}

// A group's gid. Returns 0, ENOENT when there is no such group, or the lookup's errno.
inline int LookUpGroup(const std::string& name, gid_t* out) {
  group entry{}, *found = nullptr;
  int error = WithGrowingBuffer(sysconf(_SC_GETGR_R_SIZE_MAX), [&](char* buffer, size_t size) {
    return getgrnam_r(name.c_str(), &entry, buffer, size, &found);
  });
  if (error != 0) return error;
  if (found == nullptr) return ENOENT;
  *out = entry.gr_gid;
  return 0;
}

// Becomes `account` (supplementary groups: its gid alone) keeping only `keep` of the capabilities
// (those of them the thread holds: a container or sandbox may have taken some away already),
// in the one order that works: the bounding set while CAP_SETPCAP is still there, then
// KEEPCAPS so that the uid change leaves the permitted set, then the ids, then capset.
inline Step BecomeUser(const Account& account, uint64_t keep) {
  uint64_t permitted = 0;
  if (Step step = PermittedCaps(&permitted); !step.ok()) return step;
  keep &= permitted;
  if (Step step = DropBoundingSet(keep); !step.ok()) return step;
  if (Step step = ClearAmbient(); !step.ok()) return step;
  if (keep != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Step::Failed(errno, "prctl(PR_SET_KEEPCAPS)");
  const gid_t groups[1] = {account.gid};
  if (setgroups(1, groups) != 0) return Step::Failed(errno, "setgroups");
  if (setresgid(account.gid, account.gid, account.gid) != 0) return Step::Failed(errno, "setresgid");
  if (setresuid(account.uid, account.uid, account.uid) != 0) return Step::Failed(errno, "setresuid");
  if (Step step = SetThreadCaps(keep); !step.ok()) return step;
  if (keep != 0 && prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return Step::Failed(errno, "prctl(PR_SET_KEEPCAPS)");
  // setresuid reports success per thread only for the caller; read back what the kernel holds.
  uid_t real, effective, saved;
  if (getresuid(&real, &effective, &saved) != 0) return Step::Failed(errno, "getresuid");
  if (real != account.uid || effective != account.uid || saved != account.uid) return Step::Failed(EPERM, "setresuid (read back)");
  return Step{};
}

// Without a change of user (already unprivileged, or --user root): keeps only `keep` of what the
// thread holds. Reducing the permitted set needs no privilege; the bounding set needs CAP_SETPCAP,
// and is left as it is when that is missing (reported by the caller).
inline Step KeepOnly(uint64_t keep, bool drop_bounding) {
  if (drop_bounding) {
    if (Step step = DropBoundingSet(keep); !step.ok()) return step;
  }
  if (Step step = ClearAmbient(); !step.ok()) return step;
  uint64_t permitted = 0;
  if (Step step = PermittedCaps(&permitted); !step.ok()) return step;
  return SetThreadCaps(keep & permitted);  // a set can only shrink without privilege
}

// Sets no_new_privs: no execve (were it allowed) can grant privileges, and seccomp needs it.
inline Step SetNoNewPrivs() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Step::Failed(errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  return Step{};
}

}  // namespace harden

#endif  // DOCKER_PROXY_HARDEN_CREDENTIALS_H_
