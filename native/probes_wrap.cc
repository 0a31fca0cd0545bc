// probeMemcpy (calling thread) and probeGroupCommit (its threads started from a libuv thread).
#include "probes.h"

#include "js_util.h"
#include "promise_worker.h"
#include "wraps.h"

namespace tidemq {
namespace {

Napi::Object ToJs(Napi::Env env, const ProbeResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ops", Napi::Number::New(env, static_cast<double>(r.ops)));
  o.Set("syncs", Napi::Number::New(env, static_cast<double>(r.syncs)));
  o.Set("elapsedNs", Napi::Number::New(env, static_cast<double>(r.elapsedNs)));
  return o;
}

class GroupCommitWorker : public PromiseWorker {
 public:
  GroupCommitWorker(Napi::Env env, std::string path, unsigned concurrency, size_t recordBytes,
                    uint64_t durationMs)
      : PromiseWorker(env, "tidemq.probeGroupCommit", "probeGroupCommit(" + path + ")"),
        path_(std::move(path)), concurrency_(concurrency), recordBytes_(recordBytes),
        durationMs_(durationMs) {}

 protected:
  SysError Run() override {
    return ProbeGroupCommit(path_, concurrency_, recordBytes_, durationMs_, &result_);
  }
  Napi::Value Result(Napi::Env env) override { return ToJs(env, result_); }

 private:
  std::string path_;
  unsigned concurrency_;
  size_t recordBytes_;
  uint64_t durationMs_;
  ProbeResult result_;
};

}  // namespace

Napi::Value ProbeMemcpyJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "probeMemcpy", "mapping");
  const uint64_t recordBytes = ArgIndex(info, 1, "probeMemcpy", "recordBytes");
  const uint64_t count = ArgIndex(info, 2, "probeMemcpy", "count");
  if (recordBytes == 0 || recordBytes > buffer.ByteLength()) {
    throw Napi::RangeError::New(env, "probeMemcpy: need 0 < recordBytes <= mapping length");
  }
  return ToJs(env, ProbeMemcpy(buffer.Data(), buffer.ByteLength(),
                               static_cast<size_t>(recordBytes), count));
}

Napi::Value ProbeGroupCommitJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "probeGroupCommit", "filePath");
  const uint64_t concurrency = ArgIndex(info, 1, "probeGroupCommit", "concurrency");
  const uint64_t recordBytes = ArgIndex(info, 2, "probeGroupCommit", "recordBytes");
  const uint64_t durationMs = ArgIndex(info, 3, "probeGroupCommit", "durationMs");
  if (concurrency < 1 || concurrency > 1024) {
    throw Napi::RangeError::New(env, "probeGroupCommit: concurrency must be in 1..1024");
  }
  if (recordBytes < 1 || recordBytes > (64u << 20)) {
    throw Napi::RangeError::New(env, "probeGroupCommit: recordBytes must be in 1..64 MiB");
  }
  auto* worker = new GroupCommitWorker(env, std::move(path), static_cast<unsigned>(concurrency),
                                       static_cast<size_t>(recordBytes), durationMs);
  return worker->QueueForPromise();
}

}  // namespace tidemq
