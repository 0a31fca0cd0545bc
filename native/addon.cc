// Module entry: per-environment addon state (safe in worker threads). Every JS entry point is an
// instance method that hands the environment's AddonState to its *_wrap.cc function.
#include <napi.h>

#include "addon_state.h"
#include "crc32.h"
#include "js_util.h"
#include "wraps.h"

namespace tidemq {

class TidemqAddon : public Napi::Addon<TidemqAddon> {
 public:
  TidemqAddon(Napi::Env /*env*/, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("crc32", &TidemqAddon::Crc32Js),
                             Bind<MapFileJs>("mapFile"),
                             Bind<AllocateFileJs>("allocateFile"),
                             Bind<FlushJs>("flush"),
                             Bind<FlushSyncJs>("flushSync"),
                             Bind<AdviseJs>("advise"),
                             Bind<ResidentBytesJs>("residentBytes"),
                             Bind<SetThreadNameJs>("setThreadName"),
                             Bind<PrefaultJs>("prefault"),
                             Bind<PrefaultFollowJs>("prefaultFollow"),
                             Bind<PrefaultWriterJs>("prefaultWriter"),
                             Bind<PrefaultJobsJs>("prefaultJobs"),
                             Bind<ScanRecordsJs>("scanRecords"),
                             Bind<LockFileJs>("lockFile"),
                             Bind<UnlockFileJs>("unlockFile"),
                             Bind<InjectFlushFailureJs>("injectFlushFailure"),
                             Bind<MappingCountersJs>("mappingCounters"),
                             Bind<ReleaseMappingJs>("releaseMapping"),
                             Bind<MarkReclaimableJs>("markReclaimable"),
                             Bind<SealRecordsJs>("sealRecords"),
                             Bind<CommitJs>("commit"),
                             Bind<ProbeMemcpyJs>("probeMemcpy"),
                             Bind<ProbeGroupCommitJs>("probeGroupCommit"),
                         });
  }

 private:
  using WrapFn = Napi::Value (*)(const Napi::CallbackInfo&, AddonState&);

  template <WrapFn Fn>
  Napi::Value Call(const Napi::CallbackInfo& info) {
    return Fn(info, state_);
  }

  template <WrapFn Fn>
  static PropertyDescriptor Bind(const char* name) {
    return InstanceMethod<&TidemqAddon::Call<Fn>>(name);
  }

  Napi::Value Crc32Js(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(info.Env(), "crc32: buf must be a Uint8Array");
    }
    auto buf = info[0].As<Napi::Uint8Array>();
    const uint64_t offset = ArgIndex(info, 1, "crc32", "offset");
    const uint64_t length = ArgIndex(info, 2, "crc32", "length");
    if (offset > buf.ByteLength() || length > buf.ByteLength() - offset) {
      throw Napi::RangeError::New(info.Env(), "crc32: range outside the buffer");
    }
    return Napi::Number::New(info.Env(), Crc32(buf.Data() + offset, static_cast<size_t>(length)));
  }

  AddonState state_;
};

}  // namespace tidemq

using TidemqAddon = tidemq::TidemqAddon;
NODE_API_ADDON(TidemqAddon)
