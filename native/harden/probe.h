// Test probes: each makes one call that the filter refuses, in a harmless form, and returns the
// errno (0 if the call went through). Without the filter the same call fails differently (or not
// at all), so a probe tells the filter's EPERM apart from the call's own failure.
#ifndef DOCKER_PROXY_HARDEN_PROBE_H_
#define DOCKER_PROXY_HARDEN_PROBE_H_

#include <errno.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace harden {

// -1 for a name that is not a probe.
inline int Probe(const std::string& name) {
  long result = -1;
  errno = 0;
  if (name == "execve") {
    // A path that does not exist: ENOENT unfiltered, nothing is ever run. Well-formed arguments
    // (argv[0], empty envp), so that a memory checker's syscall checks have nothing to report.
    static const char kPath[] = "/nonexistent/docker-proxy-probe";
    static char* const kArgv[] = {const_cast<char*>(kPath), nullptr};
    static char* const kEnvp[] = {nullptr};
    result = syscall(SYS_execve, kPath, kArgv, kEnvp);
  } else if (name == "process_vm_readv") {
    // Zero bytes from ourselves: succeeds unfiltered.
    result = syscall(SYS_process_vm_readv, getpid(), nullptr, 0, nullptr, 0, 0);
  } else if (name == "ptrace") {
    // PTRACE_PEEKDATA on a pid that cannot exist: ESRCH unfiltered. A real address and a real
    // result word, for the same reason as above.
    long word = 0;
    result = syscall(SYS_ptrace, PTRACE_PEEKDATA, -1, &word, &word);
  } else if (name == "unshare") {
    // No flags: succeeds unfiltered and changes nothing.
    result = syscall(SYS_unshare, 0);
  } else {
    return -1;
  }
  return result == -1 ? errno : 0;
}

}  // namespace harden

#endif  // DOCKER_PROXY_HARDEN_PROBE_H_
