#include "flush.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace tidemq {

size_t PageSize() {
  static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return kPage;
}

SysError FlushRange(void* base, size_t offset, size_t length) {
  if (length == 0) return Ok();
  const size_t page = PageSize();
  const size_t alignedStart = offset - offset % page;
  auto* start = static_cast<uint8_t*>(base) + alignedStart;
  // Unmap the whole pages first (the page cache keeps them, dirty). Writeback write-protects
  // every page still mapped, with one TLB-shootdown IPI per page to the other cores running this
  // process: about 8 us a page on a VM, more than the write itself. MADV_DONTNEED does the whole
  // range with one shootdown. A later access faults the page back in from the page cache, and a
  // write racing with the zap is kept either way (the PTE's dirty bit moves to the page). In
  // chunks of 2 MiB: the call holds the process's mmap lock, which V8 needs to grow its heap.
  constexpr size_t kChunk = 2 * 1024 * 1024;
  const size_t wholeEnd = (offset + length) - (offset + length) % page;
  for (size_t pos = alignedStart; pos < wholeEnd; pos += kChunk) {
    const size_t n = wholeEnd - pos < kChunk ? wholeEnd - pos : kChunk;
    madvise(static_cast<uint8_t*>(base) + pos, n, MADV_DONTNEED);
  }
  if (msync(start, length + (offset - alignedStart), MS_SYNC) != 0) return Fail(errno, "msync");
  return Ok();
}

void FlushFaults::Arm(int errnoValue, int count) {
  errno_.store(errnoValue, std::memory_order_relaxed);
  remaining_.store(count, std::memory_order_release);
}

int FlushFaults::Take() {
  int left = remaining_.load(std::memory_order_acquire);
  while (left > 0) {
    if (remaining_.compare_exchange_weak(left, left - 1, std::memory_order_acq_rel)) {
      return errno_.load(std::memory_order_relaxed);
    }
  }
  return 0;
}

}  // namespace tidemq
