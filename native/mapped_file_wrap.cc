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

#include <v8.h>

#include <memory>

#include "js_util.h"
#include "wraps.h"

namespace tidemq {
namespace {

// Finalizer hint: owns a reference to the registry so it outlives the addon instance.
struct MappingHint {
  void* base;
  size_t length;
  std::shared_ptr<MappingRegistry> registry;
  // releaseMapping unmapped it already; the finalizer only frees the hint.
  bool released = false;
};

void Unmap(MappingHint* hint) {
  hint->registry->Remove(hint->base);
  UnmapFile(hint->base, hint->length);
}

void FinalizeMapping(napi_env /*env*/, void* /*data*/, void* hintData) {
  auto* hint = static_cast<MappingHint*>(hintData);
  if (!hint->released) Unmap(hint);
  delete hint;
}

// An ArrayBuffer over [base, base + length) that V8 neither frees nor counts as external memory.
// (Node's napi_value is the slot of a v8::Local, as its own v8impl::JsValueFromV8LocalValue does.)
napi_value UncountedArrayBuffer(void* base, size_t length) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(base, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  return reinterpret_cast<napi_value>(*buffer);
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

  auto* hint = new MappingHint{mapping.base, mapping.length, state.mappings};
  state.mappings->Add(mapping.base,
                      MappingInfo{mapping.length, (flags & kMapReadOnly) != 0, hint});
  napi_value buffer = UncountedArrayBuffer(mapping.base, mapping.length);
  if (napi_add_finalizer(env, buffer, nullptr, FinalizeMapping, hint, nullptr) != napi_ok) {
    // No finalizer will ever run: undo here (the ArrayBuffer is dropped unused).
    FinalizeMapping(env, nullptr, hint);
    throw Napi::Error::New(env, "mapFile(" + path + "): cannot attach the unmapping finalizer");
  }
  return Napi::Value(env, buffer);
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
  auto* hint = static_cast<MappingHint*>(found.owner);
  hint->released = true;
  Unmap(hint);
  return info.Env().Undefined();
}

}  // namespace tidemq
