// An AsyncWorker that settles a Promise: Run() executes on a libuv thread and returns a
// SysError; the promise rejects with an errno error or resolves with Result(). It can pin a JS
// object (a mapping's ArrayBuffer) so that the memory Run() touches cannot be finalized and
// unmapped while the work is in flight.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <utility>

#include "js_util.h"
#include "mapping_registry.h"
#include "sys_error.h"

namespace tidemq {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* resourceName, std::string what)
      : Napi::AsyncWorker(env, resourceName), deferred_(Napi::Promise::Deferred::New(env)),
        what_(std::move(what)) {}

  ~PromiseWorker() override {
    if (registry_) registry_->Unhold(heldBase_);
  }

  // Keeps obj alive until the worker is destroyed (on the JS thread, after settling).
  void Pin(Napi::Object obj) { pinned_ = Napi::Persistent(obj); }

  // Pin a mapping's ArrayBuffer and mark the mapping busy until then, so that releaseMapping
  // refuses to unmap it under the task.
  void PinMapping(Napi::Object buffer, const void* base, std::shared_ptr<MappingRegistry> registry) {
    Pin(buffer);
    registry->Hold(base);
    heldBase_ = base;
    registry_ = std::move(registry);
  }

  Napi::Promise QueueForPromise() {
    Napi::Promise promise = deferred_.Promise();
    Queue();  // the worker deletes itself after OnOK/OnError
    return promise;
  }

 protected:
  virtual SysError Run() = 0;
  virtual Napi::Value Result(Napi::Env env) { return env.Undefined(); }

 private:
  void Execute() override { status_ = Run(); }

  // Settling can fail when the environment is shutting down (a worker thread torn down while its
  // flush was in flight): nobody is left to tell, and an exception escaping here would terminate
  // the whole process.
  void OnOK() override {
    try {
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      if (status_) {
        deferred_.Reject(MakeSysError(env, what_, status_).Value());
      } else {
        deferred_.Resolve(Result(env));
      }
    } catch (const Napi::Error&) {
    }
  }

  void OnError(const Napi::Error& e) override {
    try {
      deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

  Napi::Promise::Deferred deferred_;
  std::string what_;
  Napi::ObjectReference pinned_;
  std::shared_ptr<MappingRegistry> registry_;
  const void* heldBase_ = nullptr;
  SysError status_;
};

}  // namespace tidemq
