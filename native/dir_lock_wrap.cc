// lockFile / unlockFile. A held lock reports code EWOULDBLOCK (the contract's name; on Linux
// it is the same number as EAGAIN, which strerrorname_np would print).
#include "dir_lock.h"

#include <cerrno>

#include "js_util.h"
#include "wraps.h"

namespace tidemq {

Napi::Value LockFileJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  const std::string path = ArgString(info, 0, "lockFile", "filePath");
  int fd = -1;
  SysError err = LockFile(path, &fd);
  if (err) {
    const bool held = err.code == EWOULDBLOCK;
    throw MakeSysError(info.Env(), "lockFile(" + path + ")", err,
                       held ? "the lock is held by another open file (another store instance)"
                            : nullptr,
                       held ? "EWOULDBLOCK" : nullptr);
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value UnlockFileJs(const Napi::CallbackInfo& info, AddonState& /*state*/) {
  const int64_t fd = ArgInt(info, 0, "unlockFile", "fd");
  if (fd < 0 || fd > 0x7FFFFFFF) throw Napi::RangeError::New(info.Env(), "unlockFile: bad fd");
  SysError err = UnlockFile(static_cast<int>(fd));
  if (err) throw MakeSysError(info.Env(), "unlockFile", err);
  return info.Env().Undefined();
}

}  // namespace tidemq
