// The edge of both addons' JS APIs (splice, UDP): argument checks, and the failure objects
// they return instead of throwing, which the TypeScript side turns into Node-style errors.
#ifndef DOCKER_PROXY_JS_ARGS_H_
#define DOCKER_PROXY_JS_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace js_link {

// The failure object the JS side turns into a Node-style error.
inline Napi::Value Failure(Napi::Env env, int error, const char* syscall, const std::string& message) {
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("errno", error);
  failure.Set("syscall", syscall);
  failure.Set("message", message);
  return failure;
}

// Whether `value` is a whole number in [min, max].
inline bool IsInteger(const Napi::Value& value, double min, double max) {
  if (!value.IsNumber()) return false;
  const double number = value.As<Napi::Number>().DoubleValue();
  return std::isfinite(number) && number >= min && number <= max && std::floor(number) == number;
}

// Reads the named fields of a call's options object (its first argument), each checked as it is
// read. The first field missing or of the wrong kind is kept as the problem, so a caller reads them
// all and checks ok() once. A getter that throws counts as a problem: nothing is left pending.
class OptionReader {
 public:
  explicit OptionReader(const Napi::CallbackInfo& info) : env_(info.Env()) {
    if (info.Length() >= 1 && info[0].IsObject()) {
      object_ = info[0].As<Napi::Object>();
    } else {
      problem_ = "expected an options object";
    }
  }

  double Integer(const char* name, double min, double max) {
    const Napi::Value value = Get(name);
    if (ok() && IsInteger(value, min, max)) return value.As<Napi::Number>().DoubleValue();
    char range[64];
    snprintf(range, sizeof range, "an integer in [%.0f, %.0f]", min, max);
    Fail(name, range);
    return min;
  }

  std::string String(const char* name) {
    const Napi::Value value = Get(name);
    if (ok() && value.IsString()) return value.As<Napi::String>().Utf8Value();
    Fail(name, "a string");
    return std::string();
  }

  Napi::Function Function(const char* name) {
    const Napi::Value value = Get(name);
    if (ok() && value.IsFunction()) return value.As<Napi::Function>();
    Fail(name, "a function");
    return Napi::Function();
  }

  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }

 private:
  Napi::Value Get(const char* name) {
    if (!ok()) return Napi::Value();
    Napi::Value value = object_.Get(name);
    if (env_.IsExceptionPending()) {
      env_.GetAndClearPendingException();
      Fail(name, "readable (its getter threw)");
      return Napi::Value();
    }
    return value;
  }

  void Fail(const char* name, const char* expected) {
    if (ok()) problem_ = std::string("options.") + name + " must be " + expected;
  }

  Napi::Env env_;
  Napi::Object object_;
  std::string problem_;
};

// The result objects below use plain N-API, not node-addon-api: they are also made for callbacks
// while a worker's environment is being torn down, where JS cannot run, and node-addon-api answers
// a failed call by throwing, which aborts the process there. A failed call here leaves a gap.

// A new empty object, or null if none can be made.
inline napi_value NewObject(napi_env env) {
  napi_value object = nullptr;
  return napi_create_object(env, &object) == napi_ok ? object : nullptr;
}

// Sets `object[name]` to `value` (a count: a double is exact up to 2^53).
inline void SetCount(napi_env env, napi_value object, const char* name, uint64_t value) {
  napi_value number = nullptr;
  if (napi_create_double(env, static_cast<double>(value), &number) == napi_ok) {
    napi_set_named_property(env, object, name, number);
  }
}

}  // namespace js_link

#endif  // DOCKER_PROXY_JS_ARGS_H_
