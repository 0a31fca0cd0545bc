// mapFile and mappingCounters: a mapping handed to JS as an ArrayBuffer. The ArrayBuffer owns
// the mapping; its finalizer unmaps (or releaseMapping, which detaches it first), so a Buffer view
// over it keeps the memory valid even after the file is unlinked.
//
// The ArrayBuffer is made through V8 directly, over a backing store with an empty deleter, and
// napi_add_finalizer unmaps. V8 counts the length of an ArrayBuffer whose backing store has a
// real deleter (what napi_create_external_arraybuffer makes) as external memory that a full
// collection can give back, and starts a mark-compact whenever that count grows by ~64 MiB since
// the last one: every 128 MiB segment mapped cost its isolate a mark-compact and the event loop a
// latency stall after each segment roll. A mapping is page cache, which the kernel manages; a
// collection frees none of it, so V8 has no reason to count it.
#include "mapped_file.h"

#include <memory>

#include "js_util.h"
#include "promise_worker.h"
#include "wraps.h"

namespace tidemq {
namespace {

// Finalizer hint: owns a reference to the registry so it outlives the addon instance.
struct MappingHint {
  void* base;
  size_t length;
  std::shared_ptr<MappingRegistry> registry;
  std::shared_ptr<PrefaultService> prefaults;
  // releaseMapping unmapped it already; the finalizer only frees the hint.
  bool released = false;
  // markReclaimable counted its length as external memory (taken off again when it is unmapped).
  bool reclaimable = false;
};

void Unmap(napi_env env, MappingHint* hint) {
  if (hint->reclaimable) {
    int64_t ignored = 0;
    napi_adjust_external_memory(env, -static_cast<int64_t>(hint->length), &ignored);
  }
  hint->prefaults->Forget(hint->base);  // no prefault step may touch it from here on
  hint->registry->Remove(hint->base);
  UnmapFile(hint->base, hint->length);
}

void FinalizeMapping(napi_env env, void* /*data*/, void* hintData) {
  auto* hint = static_cast<MappingHint*>(hintData);
  if (!hint->released) Unmap(env, hint);
  delete hint;
}

void DetachMapping(Napi::Env env, Napi::ArrayBuffer buffer) {
  if (!DetachProtected(buffer)) {
    throw Napi::Error::New(env, "releaseMapping: the mapping could not be detached");
  }
}

}  // namespace

Napi::Value MapFileJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::Env env = info.Env();
  const std::string path = ArgString(info, 0, "mapFile", "filePath");
  const uint64_t sizeBytes = ArgIndex(info, 1, "mapFile", "sizeBytes");
  const int64_t flags = ArgInt(info, 2, "mapFile", "flags");
  if (flags < 0 || (flags & ~int64_t(kMapCreate | kMapReadOnly)) != 0) {
    throw Napi::RangeError::New(env, "mapFile: unknown flags " + std::to_string(flags));
  }

  Mapping mapping;
  const char* detail = nullptr;
  SysError err = MapFile(path, static_cast<size_t>(sizeBytes), static_cast<int>(flags), &mapping,
                         &detail);
  if (err) throw MakeSysError(env, "mapFile(" + path + ")", err, detail);

  auto* hint = new MappingHint{mapping.base, mapping.length, state.mappings, state.prefaults};
  state.mappings->Add(mapping.base,
                      MappingInfo{mapping.length, (flags & kMapReadOnly) != 0, hint});
  Napi::ArrayBuffer buffer = UncountedArrayBuffer(env, mapping.base, mapping.length);
  ProtectFromDetach(buffer);  // only releaseMapping may detach it
  if (napi_add_finalizer(env, buffer, nullptr, FinalizeMapping, hint, nullptr) != napi_ok) {
    // No finalizer will ever run: detach the unused buffer and undo here.
    static_cast<void>(DetachProtected(buffer));
    FinalizeMapping(env, nullptr, hint);
    throw Napi::Error::New(env, "mapFile(" + path + "): cannot attach the unmapping finalizer");
  }
  return buffer;
}

namespace {

class AllocateWorker : public PromiseWorker {
 public:
  AllocateWorker(Napi::Env env, std::string tempPath, std::string finalPath, size_t sizeBytes)
      : PromiseWorker(env, "tidemq.allocateFile", "allocateFile(" + finalPath + ")"),
        tempPath_(std::move(tempPath)), finalPath_(std::move(finalPath)), sizeBytes_(sizeBytes) {}

 protected:
  SysError Run() override { return AllocateFile(tempPath_, finalPath_, sizeBytes_, &placed_); }
  Napi::Value Result(Napi::Env env) override { return Napi::Boolean::New(env, placed_); }

 private:
  std::string tempPath_;
  std::string finalPath_;
  size_t sizeBytes_;
  bool placed_ = false;
};

}  // namespace

Napi::Value AllocateFileJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  std::string tempPath = ArgString(info, 0, "allocateFile", "tempPath");
  std::string finalPath = ArgString(info, 1, "allocateFile", "finalPath");
  const uint64_t sizeBytes = ArgIndex(info, 2, "allocateFile", "sizeBytes");
  if (sizeBytes == 0) throw Napi::RangeError::New(info.Env(), "allocateFile: sizeBytes must be > 0");
  auto* worker = new AllocateWorker(info.Env(), std::move(tempPath), std::move(finalPath),
                                    static_cast<size_t>(sizeBytes));
  return worker->QueueForPromise();
}

Napi::Value MappingCountersJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  result.Set("mapped", Napi::Number::New(env, static_cast<double>(state.mappings->mapped())));
  result.Set("unmapped", Napi::Number::New(env, static_cast<double>(state.mappings->unmapped())));
  return result;
}

// Detach a mapping's ArrayBuffer so it is unmapped without waiting for a garbage collection. Every
// view of it becomes zero-length (reads see nothing; nothing can touch unmapped memory). Only for
// mappings the caller never handed out: the dispatch workers' private segment mappings.
Napi::Value ReleaseMappingJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "releaseMapping", "mapping");
  MappingInfo found;
  if (!state.mappings->Find(buffer.Data(), &found)) {
    throw Napi::TypeError::New(info.Env(), "releaseMapping: not a mapping made by mapFile");
  }
  if (found.busy > 0) {
    throw Napi::Error::New(info.Env(),
                           "releaseMapping: a flush, seal or prefault is still running on this "
                           "mapping; release it once that has settled");
  }
  DetachMapping(info.Env(), buffer);
  auto* hint = static_cast<MappingHint*>(found.owner);
  hint->released = true;
  Unmap(info.Env(), hint);
  return info.Env().Undefined();
}

// The mapping's file was deleted: until the mapping is unmapped (a garbage collection finalizes
// its last view) it holds the file's disk blocks. Counting its length as external memory makes V8
// schedule that collection, as it did for every mapping before mappings went uncounted.
Napi::Value MarkReclaimableJs(const Napi::CallbackInfo& info, AddonState& state) {
  Napi::ArrayBuffer buffer = ArgArrayBuffer(info, 0, "markReclaimable", "mapping");
  MappingInfo found;
  if (buffer.Data() == nullptr || !state.mappings->Find(buffer.Data(), &found)) {
    return Napi::Number::New(info.Env(), 0);  // released or detached: nothing holds the blocks
  }
  auto* hint = static_cast<MappingHint*>(found.owner);
  if (!hint->reclaimable) {
    hint->reclaimable = true;
    int64_t ignored = 0;
    napi_adjust_external_memory(info.Env(), static_cast<int64_t>(hint->length), &ignored);
    return Napi::Number::New(info.Env(), static_cast<double>(hint->length));
  }
  return Napi::Number::New(info.Env(), 0);
}

}  // namespace tidemq
