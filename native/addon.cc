// Module entry: per-environment addon state (safe in worker threads).
#include <napi.h>

#include "crc32.h"

namespace tidemq {

class TidemqAddon : public Napi::Addon<TidemqAddon> {
 public:
  TidemqAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {InstanceMethod("crc32", &TidemqAddon::Crc32Js)});
  }

 private:
  Napi::Value Crc32Js(const Napi::CallbackInfo& info) {
    auto buf = info[0].As<Napi::Uint8Array>();
    size_t offset = info[1].As<Napi::Number>().Uint32Value();
    size_t length = info[2].As<Napi::Number>().Uint32Value();
    if (offset + length > buf.ByteLength()) {
      throw Napi::RangeError::New(info.Env(), "crc32: range outside the buffer");
    }
    return Napi::Number::New(info.Env(), Crc32(buf.Data() + offset, length));
  }
};

}  // namespace tidemq

using TidemqAddon = tidemq::TidemqAddon;
NODE_API_ADDON(TidemqAddon)
