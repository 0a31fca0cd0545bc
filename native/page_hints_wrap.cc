// advise (madvise, calling thread) and prefault (page pre-touch on a libuv thread); the calling
// thread's name.
#include "page_hints.h"

#include <pthread.h>

#include <string>

#include "js_util.h"
#include "promise_worker.h"
#include "wraps.h"

namespace tidemq {
namespace {

class PrefaultWorker : public PromiseWorker {
 public:
  PrefaultWorker(Napi::Env env, const MappedRange& range,
                 std::shared_ptr<MappingRegistry> registry)
      : PromiseWorker(env, "tidemq.prefault", "prefault"), base_(range.base),
        offset_(range.offset), length_(range.length) {
    PinMapping(range.buffer, range.base, std::move(registry));
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

Napi::Value ResidentBytesJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "residentBytes", *state.mappings);
  size_t bytes = 0;
  SysError err = ResidentBytes(range.base, range.offset, range.length, &bytes);
  if (err) throw MakeSysError(info.Env(), "residentBytes", err);
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

Napi::Value SetThreadNameJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "setThreadName: name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() > 15) name.resize(15);  // the kernel keeps 15 bytes and a NUL
#ifdef __linux__
  return Napi::Boolean::New(info.Env(), pthread_setname_np(pthread_self(), name.c_str()) == 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

Napi::Value PrefaultJs(const Napi::CallbackInfo& info, AddonState& state) {
  const MappedRange range = ArgMappedRange(info, "prefault", *state.mappings);
  if (range.info.readOnly) {
    throw Napi::TypeError::New(info.Env(), "prefault: the mapping is read-only");
  }
  auto* worker = new PrefaultWorker(info.Env(), range, state.mappings);
  return worker->QueueForPromise();
}

// prefaultWriter() -> Float64Array(2) over a writer slot of the prefault service.
Napi::Value PrefaultWriterJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::Env env = info.Env();
  WriterCells* cells = state.prefaults->NewWriter();
  // The service owns the memory: the buffer must never move to another thread or buffer.
  Napi::ArrayBuffer buffer = UncountedArrayBuffer(env, cells->values, sizeof cells->values);
  ProtectFromDetach(buffer);
  return Napi::Float64Array::New(env, 2, buffer, 0);
}

// prefaultFollow(mapping, cells, segmentFromOffset, leadBytes, stepBytes, idleMs)
Napi::Value PrefaultFollowJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::Env env = info.Env();
  const MappedRange mapping = ArgMapping(info, "prefaultFollow", *state.mappings);
  if (mapping.info.readOnly) {
    throw Napi::TypeError::New(env, "prefaultFollow: the mapping is read-only");
  }
  FollowRequest request;
  request.base = mapping.base;
  request.size = mapping.info.length;
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "prefaultFollow: cells must come from prefaultWriter()");
  }
  request.cells = reinterpret_cast<WriterCells*>(info[1].As<Napi::Float64Array>().Data());
  if (!state.prefaults->OwnsWriter(request.cells)) {
    throw Napi::TypeError::New(env, "prefaultFollow: cells must come from prefaultWriter()");
  }
  request.segmentFrom =
      static_cast<double>(ArgIndex(info, 2, "prefaultFollow", "segmentFromOffset"));
  request.lead = static_cast<size_t>(ArgIndex(info, 3, "prefaultFollow", "leadBytes"));
  request.step = static_cast<size_t>(ArgIndex(info, 4, "prefaultFollow", "stepBytes"));
  const uint64_t idleMs = ArgIndex(info, 5, "prefaultFollow", "idleMs");
  if (request.step == 0 || idleMs > 60'000) {
    throw Napi::RangeError::New(env,
                                "prefaultFollow: stepBytes must be > 0 and idleMs at most 60000");
  }
  request.idleMs = static_cast<int>(idleMs);
  state.prefaults->Follow(request);
  return env.Undefined();
}

// prefaultJobs() -> how many mappings the prefault service is following (tests).
Napi::Value PrefaultJobsJs(const Napi::CallbackInfo& info, AddonState& state) {
  return Napi::Number::New(info.Env(), static_cast<double>(state.prefaults->jobCount()));
}

}  // namespace tidemq
