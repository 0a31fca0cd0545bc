// The outcome of a system call in the napi-free core: 0 or an errno value, and which call.
#pragma once

namespace tidemq {

struct SysError {
  int code = 0;                  // errno value; 0 = success
  const char* syscall = nullptr;  // static string naming the failing call

  explicit operator bool() const { return code != 0; }
};

inline SysError Ok() { return SysError{}; }
inline SysError Fail(int code, const char* syscall) { return SysError{code, syscall}; }

}  // namespace tidemq
