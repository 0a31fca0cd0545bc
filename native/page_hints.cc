#include "page_hints.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>

#include "flush.h"

namespace tidemq {

SysError AdviseRange(void* base, size_t offset, size_t length, Advice advice) {
  if (length == 0) return Ok();
  int value = MADV_NORMAL;
  switch (advice) {
    case Advice::kNormal: value = MADV_NORMAL; break;
    case Advice::kSequential: value = MADV_SEQUENTIAL; break;
    case Advice::kWillNeed: value = MADV_WILLNEED; break;
    case Advice::kDontNeed: value = MADV_DONTNEED; break;
    case Advice::kRandom: value = MADV_RANDOM; break;
  }
  const size_t page = PageSize();
  const size_t alignedStart = offset - offset % page;
  auto* start = static_cast<uint8_t*>(base) + alignedStart;
  if (madvise(start, length + (offset - alignedStart), value) != 0) return Fail(errno, "madvise");
  return Ok();
}

void PrefaultRange(void* base, size_t offset, size_t length) {
  if (length == 0) return;
  volatile uint8_t* bytes = static_cast<uint8_t*>(base);
  const size_t page = PageSize();
  const size_t end = offset + length;
  bytes[offset] = 0;
  for (size_t pos = offset - offset % page + page; pos < end; pos += page) bytes[pos] = 0;
}

}  // namespace tidemq
