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

// PrefaultFollow on a libuv thread; resolves with how far it faulted in. Pins the mapping and the
// cells (both held by one JS array) until it is done.
class PrefaultFollowWorker : public PromiseWorker {
 public:
  PrefaultFollowWorker(Napi::Env env, const MappedRange& range, Napi::Float64Array cells,
                       const FollowOptions& options)
      : PromiseWorker(env, "tidemq.prefaultFollow", "prefaultFollow"), base_(range.base),
        size_(range.info.length), cells_(cells.Data()), options_(options) {
    Napi::Array pinned = Napi::Array::New(env, 2);
    pinned.Set(uint32_t{0}, range.buffer);
    pinned.Set(uint32_t{1}, cells);
    Pin(pinned);
  }

 protected:
  SysError Run() override {
    reached_ = PrefaultFollow(base_, size_, cells_, options_);
    return Ok();
  }
  Napi::Value Result(Napi::Env env) override {
    return Napi::Number::New(env, static_cast<double>(reached_));
  }

 private:
  void* base_;
  size_t size_;
  const double* cells_;
  FollowOptions options_;
  size_t reached_ = 0;
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

// prefaultFollow(mapping, cells, segmentFromOffset, from, leadBytes, stepBytes, idleMs)
Napi::Value PrefaultFollowJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::Env env = info.Env();
  MappedRange range;
  range.buffer = ArgArrayBuffer(info, 0, "prefaultFollow", "mapping");
  range.base = range.buffer.Data();
  if (range.base == nullptr || !state.mappings->Find(range.base, &range.info)) {
    throw Napi::TypeError::New(env, "prefaultFollow: mapping is not an ArrayBuffer from mapFile");
  }
  if (range.info.readOnly) throw Napi::TypeError::New(env, "prefaultFollow: the mapping is read-only");
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < 2) {
    throw Napi::TypeError::New(env, "prefaultFollow: cells must be a Float64Array of at least 2");
  }
  FollowOptions options;
  options.segmentFrom = static_cast<double>(ArgIndex(info, 2, "prefaultFollow", "segmentFromOffset"));
  options.from = static_cast<size_t>(ArgIndex(info, 3, "prefaultFollow", "from"));
  options.lead = static_cast<size_t>(ArgIndex(info, 4, "prefaultFollow", "leadBytes"));
  options.step = static_cast<size_t>(ArgIndex(info, 5, "prefaultFollow", "stepBytes"));
  const uint64_t idleMs = ArgIndex(info, 6, "prefaultFollow", "idleMs");
  if (options.step == 0 || idleMs > 60'000) {
    throw Napi::RangeError::New(env, "prefaultFollow: stepBytes must be > 0 and idleMs at most 60000");
  }
  options.idleMs = static_cast<int>(idleMs);
  auto* worker = new PrefaultFollowWorker(env, range, info[1].As<Napi::Float64Array>(), options);
  return worker->QueueForPromise();
}

}  // namespace tidemq
