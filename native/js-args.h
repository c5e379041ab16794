// The edge of both addons' JS APIs (splice, UDP): argument checks, and the failure objects
// they return instead of throwing, which the TypeScript side turns into Node-style errors.
#ifndef DOCKER_PROXY_JS_ARGS_H_
#define DOCKER_PROXY_JS_ARGS_H_

#include <napi.h>

#include <cmath>
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

}  // namespace js_link

#endif  // DOCKER_PROXY_JS_ARGS_H_
