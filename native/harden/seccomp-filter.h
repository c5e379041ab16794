// The seccomp filter: a deny list, installed on every thread at once (SECCOMP_FILTER_FLAG_TSYNC).
//
// Why a deny list: Node, V8 and libuv make a wide and version-dependent set of syscalls (futex
// variants, io and memory calls, epoll, timerfd, eventfd, getrandom, membarrier ...); an allow
// list would break on the next Node minor with a SIGSYS in production. What a port-forwarding
// proxy never needs after start-up is short and stable: running programs, reading or writing
// other processes, kernel modules, mounts and namespaces, BPF, and the calls of a system's
// administrator. Those fail with EPERM (not a kill: a bug somewhere reaching one gets an error it
// can report). Syscalls of another ABI (i386 through int 0x80, x32) are how deny lists are
// bypassed: a wrong architecture kills the process, x32 numbers fail.
#ifndef DOCKER_PROXY_HARDEN_SECCOMP_FILTER_H_
#define DOCKER_PROXY_HARDEN_SECCOMP_FILTER_H_

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "step.h"

namespace harden {

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
constexpr uint32_t kX32Bit = 0;
#else
#error "seccomp filter: only x86_64 and aarch64 are built"
#endif

// Refused with EPERM. #ifdef: an architecture or a libc's headers may lack some.
inline std::vector<uint32_t> DeniedSyscalls() {
  return {
    // Running another program: nothing a proxy does, everything an exploit wants.
    SYS_execve, SYS_execveat,
    // Other processes' memory and debugging.
    SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_kcmp,
#ifdef SYS_pidfd_getfd
    SYS_pidfd_getfd,
#endif
    // Kernel modules and replacing the kernel.
    SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load,
#ifdef SYS_kexec_file_load
    SYS_kexec_file_load,
#endif
    // Mounts, roots and namespaces (clone's namespace flags are checked apart).
    SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_unshare, SYS_setns,
#ifdef SYS_open_tree
    SYS_open_tree, SYS_move_mount, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick,
#endif
#ifdef SYS_mount_setattr
    SYS_mount_setattr,
#endif
    // Kernel attack surface a proxy has no use for.
    SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_keyctl, SYS_add_key, SYS_request_key,
    SYS_open_by_handle_at, SYS_name_to_handle_at,
    // io_uring runs its requests with the credentials of the ring's creator, past this filter
    // (libuv in Node 20.3-20.11 created its ring before a setuid, CVE-2024-22017); Node's libuv
    // falls back to its thread pool when it cannot set a ring up.
    SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
    // The administrator's calls.
    SYS_reboot, SYS_swapon, SYS_swapoff, SYS_acct, SYS_quotactl, SYS_settimeofday, SYS_clock_settime,
    SYS_clock_adjtime, SYS_adjtimex, SYS_sethostname, SYS_setdomainname, SYS_syslog, SYS_vhangup,
    // Raising a resource limit: CAP_SYS_RESOURCE, when kept for splice's pipes, must not mean that.
    SYS_setrlimit,
#if defined(__x86_64__)
    SYS_iopl, SYS_ioperm, SYS_uselib, SYS__sysctl,
#endif
  };
}

// Namespace-creating clone flags; threads and forks without them go through.
constexpr uint32_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;

constexpr uint32_t ArgOffset(int index, bool high) {
  return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * index + (high ? 4 : 0));
}

// The BPF program. Jump offsets count instructions skipped; the tail after the denied list is
// t0-t3 clone, t4-t5 clone3, t6-t11 prlimit64, t12 ALLOW, t13 DENY. Layout: architecture check, the syscall number, one jeq per denied call
// (jumping to DENY), clone's flags, clone3 (its flags sit in memory BPF cannot read: ENOSYS makes
// glibc fall back to clone), prlimit64 with a new limit, ALLOW, DENY.
inline std::vector<sock_filter> BuildFilter() {
  const std::vector<uint32_t> denied = DeniedSyscalls();
  std::vector<sock_filter> program;
  auto add = [&](sock_filter instruction) { program.push_back(instruction); };
  add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // Instructions after the denied list, before DENY: clone (4), clone3 (2), prlimit64 (6), ALLOW (1).
  constexpr uint32_t kTail = 4 + 2 + 6 + 1;
  if (kX32Bit != 0) {
    add(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, static_cast<uint8_t>(denied.size() + kTail), 0));
  }
  for (size_t i = 0; i < denied.size(); i++) {
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, denied[i], static_cast<uint8_t>(denied.size() - i - 1 + kTail), 0));
  }
  // clone: refuse namespace flags (args[0], the low word holds them).
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
  add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgOffset(0, false)));
  add(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kNamespaceFlags, 10, 0));  // -> DENY
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  // clone3: ENOSYS.
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  // prlimit64(pid, resource, new_limit, old_limit): reading (new_limit NULL) is getrlimit.
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prlimit64, 0, 5));  // other calls -> the final ALLOW
  add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgOffset(2, false)));
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 4));  // low word non-zero -> DENY
  add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ArgOffset(2, true)));
  add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2));  // high word non-zero -> DENY
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
  return program;
}

// Installs the filter on every thread. Needs no_new_privs (or CAP_SYS_ADMIN). A positive return
// of seccomp() with TSYNC names a thread that could not be synchronised.
inline Step InstallFilter() {
  std::vector<sock_filter> program = BuildFilter();
  sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
  if (result < 0) return Step::Failed(errno, "seccomp(SECCOMP_SET_MODE_FILTER)");
  if (result > 0) return Step::Failed(ESRCH, "seccomp(SECCOMP_FILTER_FLAG_TSYNC)");
  return Step{};
}

}  // namespace harden

#endif  // DOCKER_PROXY_HARDEN_SECCOMP_FILTER_H_
