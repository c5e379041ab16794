// Giving up privileges after start-up: the change of user with chosen capabilities kept,
// no_new_privs, and the seccomp filter on every thread. Why each step is done the way it is:
// credentials.h and seccomp-filter.h. JS API (failures are returned, never thrown):
//   lookUpUser(name) -> { uid, gid } | { errno, syscall, message }    errno ENOENT: no such user
//   lookUpGroup(name) -> { gid } | failure
//   becomeUser({ uid, gid, keep }) -> null | failure                  keep: capability numbers
//   keepOnlyCaps({ keep, dropBounding }) -> null | failure             no change of user
//   setNoNewPrivs() -> null | failure
//   installSeccomp() -> null | failure
//   probe(name) -> errno of a call the filter refuses (0: it went through; -1: unknown probe)
//   capabilities: { NET_BIND_SERVICE, NET_ADMIN, SYS_RESOURCE, SETPCAP } (their numbers)
#include <napi.h>
#include <string.h>

#include <cstdint>
#include <string>

#include "../js-args.h"
#include "credentials.h"
#include "probe.h"
#include "seccomp-filter.h"

namespace {

using js_link::Failure;
using js_link::IsInteger;

Napi::Value Result(Napi::Env env, const harden::Step& step) {
  if (step.ok()) return env.Null();
  return Failure(env, step.error, step.call, std::string(step.call) + ": " + strerror(step.error));
}

Napi::Value LookUpUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Failure(env, EINVAL, "getpwnam_r", "expected a user name");
  const std::string name = info[0].As<Napi::String>();
  harden::Account account;
  if (int error = harden::LookUpUser(name, &account)) {
    return Failure(env, error, "getpwnam_r", error == ENOENT ? "no such user" : strerror(error));
  }
  Napi::Object found = Napi::Object::New(env);
  found.Set("uid", static_cast<double>(account.uid));
  found.Set("gid", static_cast<double>(account.gid));
  return found;
}

Napi::Value LookUpGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Failure(env, EINVAL, "getgrnam_r", "expected a group name");
  const std::string name = info[0].As<Napi::String>();
  gid_t gid = 0;
  if (int error = harden::LookUpGroup(name, &gid)) {
    return Failure(env, error, "getgrnam_r", error == ENOENT ? "no such group" : strerror(error));
  }
  Napi::Object found = Napi::Object::New(env);
  found.Set("gid", static_cast<double>(gid));
  return found;
}

// The `keep` array of capability numbers as a mask; false if it is not one.
bool CapMask(const Napi::Value& value, uint64_t* out) {
  if (!value.IsArray()) return false;
  Napi::Array list = value.As<Napi::Array>();
  uint64_t mask = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value cap = list.Get(i);
    if (!IsInteger(cap, 0, 63)) return false;
    mask |= harden::CapBit(cap.As<Napi::Number>().Int32Value());
  }
  *out = mask;
  return true;
}

constexpr double kMaxId = 4294967294.0;  // (uid_t)-1 means "unchanged" to the kernel

Napi::Value BecomeUser(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t keep = 0;
  if (info.Length() < 1 || !info[0].IsObject()) return Failure(env, EINVAL, "setresuid", "expected { uid, gid, keep }");
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value uid = options.Get("uid"), gid = options.Get("gid");
  if (!IsInteger(uid, 0, kMaxId) || !IsInteger(gid, 0, kMaxId) || !CapMask(options.Get("keep"), &keep)) {
    return Failure(env, EINVAL, "setresuid", "expected { uid, gid, keep } with whole numbers");
  }
  harden::Account account{static_cast<uid_t>(uid.As<Napi::Number>().Int64Value()),
                          static_cast<gid_t>(gid.As<Napi::Number>().Int64Value())};
  return Result(env, harden::BecomeUser(account, keep));
}

Napi::Value KeepOnlyCaps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t keep = 0;
  if (info.Length() < 1 || !info[0].IsObject()) return Failure(env, EINVAL, "capset", "expected { keep, dropBounding }");
  Napi::Object options = info[0].As<Napi::Object>();
  Napi::Value bounding = options.Get("dropBounding");
  if (!CapMask(options.Get("keep"), &keep) || !bounding.IsBoolean()) {
    return Failure(env, EINVAL, "capset", "expected { keep: number[], dropBounding: boolean }");
  }
  return Result(env, harden::KeepOnly(keep, bounding.As<Napi::Boolean>().Value()));
}

Napi::Value SetNoNewPrivs(const Napi::CallbackInfo& info) { return Result(info.Env(), harden::SetNoNewPrivs()); }

Napi::Value InstallSeccomp(const Napi::CallbackInfo& info) { return Result(info.Env(), harden::InstallFilter()); }

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, harden::Probe(info[0].As<Napi::String>()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("lookUpUser", Napi::Function::New(env, LookUpUser));
  exports.Set("lookUpGroup", Napi::Function::New(env, LookUpGroup));
  exports.Set("becomeUser", Napi::Function::New(env, BecomeUser));
  exports.Set("keepOnlyCaps", Napi::Function::New(env, KeepOnlyCaps));
  exports.Set("setNoNewPrivs", Napi::Function::New(env, SetNoNewPrivs));
  exports.Set("installSeccomp", Napi::Function::New(env, InstallSeccomp));
  exports.Set("probe", Napi::Function::New(env, Probe));
  Napi::Object caps = Napi::Object::New(env);
  caps.Set("NET_BIND_SERVICE", CAP_NET_BIND_SERVICE);
  caps.Set("NET_ADMIN", CAP_NET_ADMIN);
  caps.Set("SYS_RESOURCE", CAP_SYS_RESOURCE);
  caps.Set("SETPCAP", CAP_SETPCAP);
  exports.Set("capabilities", caps);
  return exports;
}

}  // namespace

NODE_API_MODULE(harden, Init)
