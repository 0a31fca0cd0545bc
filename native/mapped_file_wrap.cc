// mapFile and mappingCounters: a mapping handed to JS as an external ArrayBuffer. The
// ArrayBuffer owns the mapping; its finalizer is the only place that unmaps, so a Buffer view
// over it keeps the memory valid even after the file is unlinked.
#include "mapped_file.h"

#include <memory>

#include "js_util.h"
#include "wraps.h"

namespace tidemq {
namespace {

// Finalizer hint: owns a reference to the registry so it outlives the addon instance.
struct MappingHint {
  size_t length;
  std::shared_ptr<MappingRegistry> registry;
};

void FinalizeMapping(Napi::Env /*env*/, void* base, MappingHint* hint) {
  hint->registry->Remove(base);
  UnmapFile(base, hint->length);
  delete hint;
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

  auto* hint = new MappingHint{mapping.length, state.mappings};
  state.mappings->Add(mapping.base, MappingInfo{mapping.length, (flags & kMapReadOnly) != 0});
  try {
    return Napi::ArrayBuffer::New(env, mapping.base, mapping.length, FinalizeMapping, hint);
  } catch (...) {
    // No ArrayBuffer, so no finalizer will ever run: undo here.
    FinalizeMapping(env, mapping.base, hint);
    throw;
  }
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
  buffer.Detach();
  return info.Env().Undefined();
}

}  // namespace tidemq
