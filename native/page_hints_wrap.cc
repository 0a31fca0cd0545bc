// advise (madvise, calling thread) and prefault (page pre-touch on a libuv thread).
#include "page_hints.h"

#include "js_util.h"
#include "promise_worker.h"
#include "wraps.h"

namespace tidemq {
namespace {

class PrefaultWorker : public PromiseWorker {
 public:
  PrefaultWorker(Napi::Env env, const MappedRange& range)
      : PromiseWorker(env, "tidemq.prefault", "prefault"), base_(range.base),
        offset_(range.offset), length_(range.length) {
    Pin(range.buffer);
  }

 protected:
  SysError Run() override {
    PrefaultRange(base_, offset_, length_);
    return Ok();
  }

 private:
  void* base_;
  size_t offset_;
  size_t length_;
};

}  // namespace

Napi::Value AdviseJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "advise", *state.mappings);
  const int64_t advice = ArgInt(info, 3, "advise", "advice");
  if (advice < 0 || advice > static_cast<int64_t>(Advice::kRandom)) {
    throw Napi::RangeError::New(info.Env(), "advise: unknown advice " + std::to_string(advice));
  }
  SysError err = AdviseRange(range.base, range.offset, range.length, static_cast<Advice>(advice));
  if (err) throw MakeSysError(info.Env(), "advise", err);
  return info.Env().Undefined();
}

Napi::Value PrefaultJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "prefault", *state.mappings);
  if (range.info.readOnly) {
    throw Napi::TypeError::New(info.Env(), "prefault: the mapping is read-only");
  }
  auto* worker = new PrefaultWorker(info.Env(), range);
  return worker->QueueForPromise();
}

}  // namespace tidemq
