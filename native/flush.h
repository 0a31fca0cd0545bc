// Forcing a mapped range to disk: msync(MS_SYNC) with the start aligned down to the page size.
// Plus the test-only failure injection: the next N flushes fail with a chosen errno without
// calling msync, so the layers above can prove a failed flush never reports success.
#pragma once
#include <atomic>
#include <cstddef>

#include "sys_error.h"

namespace tidemq {

// msync(MS_SYNC) of base[offset, offset+length), after unmapping (MADV_DONTNEED) the whole pages
// of that range, which stay in the page cache. The caller has range-checked it.
SysError FlushRange(void* base, size_t offset, size_t length);

size_t PageSize();

class FlushFaults {
 public:
  void Arm(int errnoValue, int count);
  // 0, or the errno the next flush must fail with (consumes one armed failure).
  int Take();

 private:
  std::atomic<int> errno_{0};
  std::atomic<int> remaining_{0};
};

}  // namespace tidemq
