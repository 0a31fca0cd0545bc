// sealRecords (calling thread) and commit (libuv thread: seal, then optionally msync).
#include "flush.h"
#include "js_util.h"
#include "promise_worker.h"
#include "record_seal.h"
#include "wraps.h"

namespace tidemq {
namespace {

struct CommitArgs {
  Napi::ArrayBuffer buffer;
  uint8_t* data;
  size_t sealStart;
  size_t end;
  size_t flushStart;
  bool flush;
};

CommitArgs ArgCommit(const Napi::CallbackInfo& info, const char* fn) {
  Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, fn, "mapping");
  const uint64_t sealStart = ArgIndex(info, 1, fn, "sealStart");
  const uint64_t end = ArgIndex(info, 2, fn, "end");
  const uint64_t flushStart = info.Length() > 3 ? ArgIndex(info, 3, fn, "flushStart") : 0;
  const bool flush = info.Length() > 4 ? ArgBool(info, 4, fn, "flush") : false;
  if (sealStart > end || flushStart > end || end > buffer.ByteLength()) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": need sealStart, flushStart <= end <= mapping length");
  }
  return {buffer, static_cast<uint8_t*>(buffer.Data()), static_cast<size_t>(sealStart),
          static_cast<size_t>(end), static_cast<size_t>(flushStart), flush};
}

class CommitWorker : public PromiseWorker {
 public:
  CommitWorker(Napi::Env env, const CommitArgs& a, int injectedErrno,
               std::shared_ptr<MappingRegistry> registry)
      : PromiseWorker(env, "tidemq.commit", "commit"), a_(a), injectedErrno_(injectedErrno) {
    PinMapping(a.buffer, a.data, std::move(registry));
  }

 protected:
  SysError Run() override {
    sealed_ = SealRecords(a_.data, a_.sealStart, a_.end);
    if (!a_.flush || sealed_ <= a_.flushStart) return Ok();
    if (injectedErrno_ != 0) return Fail(injectedErrno_, "msync");
    return FlushRange(a_.data, a_.flushStart, sealed_ - a_.flushStart);
  }

  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, double(sealed_)); }

 private:
  CommitArgs a_;
  int injectedErrno_;
  size_t sealed_ = 0;
};

}  // namespace

Napi::Value SealRecordsJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  const CommitArgs a = ArgCommit(info, "sealRecords");
  return Napi::Number::New(info.Env(), double(SealRecords(a.data, a.sealStart, a.end)));
}

Napi::Value CommitJs(const Napi::CallbackInfo& info, AddonState& state) {
  const CommitArgs a = ArgCommit(info, "commit");
  auto* worker =
      new CommitWorker(info.Env(), a, a.flush ? state.flushFaults.Take() : 0, state.mappings);
  return worker->QueueForPromise();
}

}  // namespace tidemq
