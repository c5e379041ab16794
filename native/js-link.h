// What both addons (splice, UDP) need to tie a native object to JS: the JS handle object kept
// alive while the native side runs, one callback made from below the event loop, and the handle's
// life from launch to its final totals. Their argument checks and failure objects: js-args.h.
#ifndef DOCKER_PROXY_JS_LINK_H_
#define DOCKER_PROXY_JS_LINK_H_

#include <napi.h>

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

// The JS object that stands for a native object (a relay, a proxy): an ObjectWrap `Derived` whose
// methods reach the native object while it runs and, since JS may keep the object longer, the
// totals it left once it has ended. `Derived::Read(const Native&)` takes the totals; `Native` holds
// a JsState<Derived> named `js`.
template <typename Derived, typename Native, typename Totals>
class Handle : public Napi::ObjectWrap<Derived> {
 public:
  explicit Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Derived>(info) {}
  // JsState holds the object until Detach(), so this runs detached; a stale pointer must not stay.
  ~Handle() override {
    if (native_ != nullptr) native_->js.handle = nullptr;
  }
  void Attach(Native* native) { native_ = native; }
  // From here on totals() answers from the final counts; the native memory may go away.
  void Detach() {
    if (native_ == nullptr) return;
    final_ = Derived::Read(*native_);
    native_->js.handle = nullptr;
    native_ = nullptr;
  }
  Totals totals() const { return native_ != nullptr ? Derived::Read(*native_) : final_; }

 protected:
  Native* native() const { return native_; }

 private:
  Native* native_ = nullptr;
  Totals final_{};
};

// What a native object holds of JS: the link, its Handle, and the hook that stops it when the
// environment exits (worker termination) while it still runs.
template <typename HandleType>
struct JsState {
  JsLink link;
  HandleType* handle = nullptr;  // null before Launch() and after Release()
  napi_async_cleanup_hook_handle cleanup_hook = nullptr;

  // Makes `native` reachable from JS: a new `js_class` object, linked to `callback`, attached both
  // ways, with `teardown(native)` registered for environment exit. An empty object on failure,
  // with nothing held and no exception pending; the caller then frees `native` its own way.
  template <typename Native>
  Napi::Object Launch(Napi::Env env, const Napi::FunctionReference& js_class, const char* resource,
                      const Napi::Function& callback, Native* native, napi_async_cleanup_hook teardown) {
    Napi::Object object = js_class.New({});
    if (!env.IsExceptionPending() && !object.IsEmpty() && link.Open(env, object, resource, callback)) {
      handle = HandleType::Unwrap(object);
    }
    if (handle == nullptr) {
      if (env.IsExceptionPending()) env.GetAndClearPendingException();
      link.Close();
      return Napi::Object();
    }
    handle->Attach(native);
    if (napi_add_async_cleanup_hook(env, teardown, native, &cleanup_hook) != napi_ok) {
      cleanup_hook = nullptr;  // only worker teardown is affected
    }
    return object;
  }

  // Lets go of JS: the handle keeps the final totals, the object and callback may be collected.
  // Safe to call again, and needed before the environment goes (the references belong to it).
  void Release() {
    if (handle != nullptr) handle->Detach();
    link.Close();
  }

  // The native object is being freed: environment exit must not call `teardown` for it any more.
  void RemoveCleanupHook() {
    if (cleanup_hook != nullptr) napi_remove_async_cleanup_hook(cleanup_hook);
    cleanup_hook = nullptr;
  }
};

}  // namespace js_link

#endif  // DOCKER_PROXY_JS_LINK_H_
