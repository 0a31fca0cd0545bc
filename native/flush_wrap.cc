// flush (libuv thread), flushSync (calling thread) and the test-only failure injection.
// An injected failure is taken when the call is made, so "the next N calls" means calls in
// program order, whatever order the worker threads finish in.
#include "flush.h"

#include "js_util.h"
#include "promise_worker.h"
#include "wraps.h"

namespace tidemq {
namespace {

class FlushWorker : public PromiseWorker {
 public:
  FlushWorker(Napi::Env env, const MappedRange& range, int injectedErrno,
              std::shared_ptr<MappingRegistry> registry)
      : PromiseWorker(env, "tidemq.flush", "flush"), base_(range.base), offset_(range.offset),
        length_(range.length), injectedErrno_(injectedErrno) {
    PinMapping(range.buffer, range.base, std::move(registry));
  }

 protected:
  SysError Run() override {
    if (injectedErrno_ != 0) return Fail(injectedErrno_, "msync");
    return FlushRange(base_, offset_, length_);
  }

 private:
  void* base_;
  size_t offset_;
  size_t length_;
  int injectedErrno_;
};

}  // namespace

Napi::Value FlushJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "flush", *state.mappings);
  auto* worker = new FlushWorker(info.Env(), range, state.flushFaults.Take(), state.mappings);
  return worker->QueueForPromise();
}

Napi::Value FlushSyncJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "flushSync", *state.mappings);
  SysError err;
  if (const int injected = state.flushFaults.Take()) {
    err = Fail(injected, "msync");
  } else {
    err = FlushRange(range.base, range.offset, range.length);
  }
  if (err) throw MakeSysError(info.Env(), "flushSync", err);
  return info.Env().Undefined();
}

Napi::Value InjectFlushFailureJs(const Napi::CallbackInfo& info, AddonState& state) {
  const int64_t errnoValue = ArgInt(info, 0, "injectFlushFailure", "errno");
  const int64_t count = ArgInt(info, 1, "injectFlushFailure", "count");
  if (errnoValue <= 0 || errnoValue > 4095 || count < 0 || count > 0x7FFFFFFF) {
    throw Napi::RangeError::New(info.Env(),
                                "injectFlushFailure: errno must be in 1..4095 and count >= 0");
  }
  state.flushFaults.Arm(static_cast<int>(errnoValue), static_cast<int>(count));
  return info.Env().Undefined();
}

}  // namespace tidemq
