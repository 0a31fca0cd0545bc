#include "js_util.h"

#include <v8.h>

#include <cmath>
#include <cstring>
#include <memory>

namespace tidemq {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;

[[noreturn]] void ThrowType(Napi::Env env, const char* fn, const char* name, const char* what) {
  throw Napi::TypeError::New(env, std::string(fn) + ": " + name + " must be " + what);
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsNumber()) ThrowType(info.Env(), fn, name, "a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::trunc(v) != v) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer");
  }
  return v;
}

}  // namespace

Napi::Error MakeSysError(Napi::Env env, const std::string& what, SysError err, const char* detail,
                         const char* codeOverride) {
  const char* code = codeOverride;
  if (code == nullptr) code = strerrorname_np(err.code);
  if (code == nullptr) code = "EUNKNOWN";
  std::string message = what + ": " + code + ": " + (detail ? detail : strerror(err.code));
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, err.code));
  error.Set("syscall", Napi::String::New(env, err.syscall ? err.syscall : "unknown"));
  return error;
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsString()) ThrowType(info.Env(), fn, name, "a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.empty() || s.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(info.Env(),
                               std::string(fn) + ": " + name + " must be a non-empty path");
  }
  return s;
}

uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const double v = ArgNumber(info, i, fn, name);
  if (v < 0 || v > kMaxSafeInteger) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name +
                                                " must be a non-negative safe integer");
  }
  return static_cast<uint64_t>(v);
}

int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const double v = ArgNumber(info, i, fn, name);
  if (std::fabs(v) > kMaxSafeInteger) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + " is out of range");
  }
  return static_cast<int64_t>(v);
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  if (!info[i].IsBoolean()) ThrowType(info.Env(), fn, name, "a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo& info, size_t i, const char* fn,
                                 const char* name) {
  if (!info[i].IsArrayBuffer()) ThrowType(info.Env(), fn, name, "an ArrayBuffer");
  return info[i].As<Napi::ArrayBuffer>();
}

MappedRange ArgMapping(const Napi::CallbackInfo& info, const char* fn,
                       const MappingRegistry& registry) {
  MappedRange r;
  r.buffer = ArgArrayBuffer(info, 0, fn, "mapping");
  r.base = r.buffer.Data();
  if (r.base == nullptr || !registry.Find(r.base, &r.info)) {
    throw Napi::TypeError::New(info.Env(),
                               std::string(fn) + ": mapping is not an ArrayBuffer from mapFile");
  }
  r.offset = 0;
  r.length = 0;
  return r;
}

MappedRange ArgMappedRange(const Napi::CallbackInfo& info, const char* fn,
                           const MappingRegistry& registry) {
  MappedRange r = ArgMapping(info, fn, registry);
  const uint64_t offset = ArgIndex(info, 1, fn, "offset");
  const uint64_t length = ArgIndex(info, 2, fn, "length");
  if (offset > r.info.length || length > r.info.length - offset) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": range [" +
                                                std::to_string(offset) + ", +" +
                                                std::to_string(length) +
                                                ") is outside the mapping of " +
                                                std::to_string(r.info.length) + " bytes");
  }
  r.offset = static_cast<size_t>(offset);
  r.length = static_cast<size_t>(length);
  return r;
}

// Node's napi_value is the slot of a v8::Local (its v8impl::JsValueFromV8LocalValue); the addon
// relies on that here and below, so it is built for one Node (and V8) version, as `npm install`
// does, not for Node-API's cross-version ABI.
static_assert(sizeof(napi_value) == sizeof(v8::Local<v8::Value>), "napi_value is a v8::Local slot");

Napi::ArrayBuffer UncountedArrayBuffer(Napi::Env env, void* data, size_t length) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(data, length, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  return Napi::ArrayBuffer(env, reinterpret_cast<napi_value>(*buffer));
}

namespace {

v8::Local<v8::ArrayBuffer> AsV8(napi_value value) {
  v8::Local<v8::ArrayBuffer> local;
  std::memcpy(static_cast<void*>(&local), &value, sizeof value);
  return local;
}

v8::Local<v8::Value> DetachKey(v8::Isolate* isolate) {
  return v8::String::NewFromUtf8Literal(isolate, "tidemq.native");
}

}  // namespace

void ProtectFromDetach(Napi::ArrayBuffer buffer) {
  AsV8(buffer)->SetDetachKey(DetachKey(v8::Isolate::GetCurrent()));
}

bool DetachProtected(Napi::ArrayBuffer buffer) {
  return AsV8(buffer)->Detach(DetachKey(v8::Isolate::GetCurrent())).IsJust();
}

}  // namespace tidemq
