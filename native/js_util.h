// Shared helpers of the *_wrap.cc files: cheap argument checks (TypeError/RangeError) and
// errno errors with `code`, `errno` and `syscall` properties.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "mapping_registry.h"
#include "sys_error.h"

namespace tidemq {

// Error whose message reads "what: CODE: description" (or "what: detail" when given).
Napi::Error MakeSysError(Napi::Env env, const std::string& what, SysError err,
                         const char* detail = nullptr, const char* codeOverride = nullptr);

// Argument checks: throw TypeError/RangeError naming the function and the argument.
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
// A non-negative integer below 2^53.
uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name);
Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo& info, size_t i, const char* fn,
                                 const char* name);

// A mapping argument: an ArrayBuffer made by this instance's mapFile, plus [offset, offset+length)
// checked against its length.
struct MappedRange {
  Napi::ArrayBuffer buffer;
  void* base;
  size_t offset;
  size_t length;
  MappingInfo info;
};
MappedRange ArgMappedRange(const Napi::CallbackInfo& info, const char* fn,
                           const MappingRegistry& registry);
// Argument 0 as a mapping of this instance's mapFile, without a range (offset and length 0).
MappedRange ArgMapping(const Napi::CallbackInfo& info, const char* fn,
                       const MappingRegistry& registry);

// An ArrayBuffer over [data, data + length) that V8 neither frees nor counts as external memory
// (see mapped_file_wrap.cc); the caller keeps the memory valid for as long as JS can reach it.
Napi::ArrayBuffer UncountedArrayBuffer(Napi::Env env, void* data, size_t length);

// Give an ArrayBuffer over native-owned memory a V8 detach key, so that nothing but
// DetachProtected can detach it (ArrayBuffer.prototype.transfer(), a transfer list would otherwise
// move the memory to a new buffer, possibly in another thread, behind the owner's back).
void ProtectFromDetach(Napi::ArrayBuffer buffer);
// Detach a buffer given ProtectFromDetach. False if V8 refused (an exception is then pending).
bool DetachProtected(Napi::ArrayBuffer buffer);

}  // namespace tidemq
