// The edge of both addons' JS APIs (splice, UDP): argument checks, and the failure objects
// they return instead of throwing, which the TypeScript side turns into Node-style errors.
#ifndef DOCKER_PROXY_JS_ARGS_H_
#define DOCKER_PROXY_JS_ARGS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
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
