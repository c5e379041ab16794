// What both addons (splice.cc, udp.cc) need to tie a native object to JS: the JS handle object kept
// alive while the native side runs, one callback made from below the event loop, and the argument
// checks and failure objects of their JS APIs (failures are returned, never thrown).
#ifndef DOCKER_PROXY_JS_LINK_H_
#define DOCKER_PROXY_JS_LINK_H_

#include <napi.h>

#include <cmath>
#include <string>

namespace js_link {

// The JS side of a native object. Every member is null until Open() and again after Close().
struct JsLink {
  napi_env env = nullptr;
  napi_ref handle_ref = nullptr;  // keeps the JS object (and so its wrapped handle) alive
  napi_ref callback = nullptr;
  napi_async_context async_context = nullptr;

  // Takes references to `object` and `on_call` and an async context named `resource`. False, with
  // nothing held and no exception left pending, if any step fails.
  bool Open(napi_env e, napi_value object, const char* resource, napi_value on_call) {
    env = e;
    napi_value name = nullptr;
    if (napi_create_string_utf8(env, resource, NAPI_AUTO_LENGTH, &name) == napi_ok &&
        napi_async_init(env, object, name, &async_context) == napi_ok &&
        napi_create_reference(env, object, 1, &handle_ref) == napi_ok &&
        napi_create_reference(env, on_call, 1, &callback) == napi_ok) {
      return true;
    }
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_get_and_clear_last_exception(env, &ignored);
    }
    Close();
    return false;
  }

  // Drops what Open() took; safe to call again.
  void Close() {
    if (async_context != nullptr) napi_async_destroy(env, async_context);
    if (callback != nullptr) napi_delete_reference(env, callback);
    if (handle_ref != nullptr) napi_delete_reference(env, handle_ref);
    async_context = nullptr;
    callback = handle_ref = nullptr;
  }

  // Calls the callback with the arguments `fill(env, argv)` writes (it returns how many, at most 4),
  // in a handle scope of its own. We run below the event loop, not inside a JS call, so an exception
  // the callback throws goes to 'uncaughtException'.
  template <typename Fill>
  void Call(Fill fill) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value function = nullptr, receiver, result, argv[4];
    if (callback != nullptr) napi_get_reference_value(env, callback, &function);
    napi_get_global(env, &receiver);  // napi_make_callback needs an object, not undefined
    const size_t argc = fill(env, argv);
    if (function != nullptr) napi_make_callback(env, async_context, receiver, function, argc, argv, &result);
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value exception;
      napi_get_and_clear_last_exception(env, &exception);
      napi_fatal_exception(env, exception);
    }
    napi_close_handle_scope(env, scope);
  }
};

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

#endif  // DOCKER_PROXY_JS_LINK_H_
