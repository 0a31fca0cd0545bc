// The JS entry points, one group per *_wrap.cc file; addon.cc binds them as instance methods.
#pragma once
#include <napi.h>

#include "addon_state.h"

namespace tidemq {

// mapped_file_wrap.cc
Napi::Value MapFileJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value AllocateFileJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value MappingCountersJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value ReleaseMappingJs(const Napi::CallbackInfo& info, AddonState& state);
// flush_wrap.cc
Napi::Value FlushJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value FlushSyncJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value InjectFlushFailureJs(const Napi::CallbackInfo& info, AddonState& state);
// page_hints_wrap.cc
Napi::Value AdviseJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value ResidentBytesJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value SetThreadNameJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value PrefaultJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value PrefaultFollowJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value PrefaultWriterJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value PrefaultJobsJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value MarkReclaimableJs(const Napi::CallbackInfo& info, AddonState& state);
// recovery_scan_wrap.cc
Napi::Value ScanRecordsJs(const Napi::CallbackInfo& info, AddonState& state);
// dir_lock_wrap.cc
Napi::Value LockFileJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value UnlockFileJs(const Napi::CallbackInfo& info, AddonState& state);
// record_seal_wrap.cc
Napi::Value SealRecordsJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value CommitJs(const Napi::CallbackInfo& info, AddonState& state);
// probes_wrap.cc
Napi::Value ProbeMemcpyJs(const Napi::CallbackInfo& info, AddonState& state);
Napi::Value ProbeGroupCommitJs(const Napi::CallbackInfo& info, AddonState& state);

}  // namespace tidemq
