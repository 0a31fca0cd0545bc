#include "page_hints.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <vector>

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

SysError ResidentBytes(void* base, size_t offset, size_t length, size_t* out) {
  *out = 0;
  if (length == 0) return Ok();
  const size_t page = PageSize();
  const size_t alignedStart = offset - offset % page;
  const size_t span = length + (offset - alignedStart);
  const size_t pages = (span + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  if (mincore(static_cast<uint8_t*>(base) + alignedStart, span, vec.data()) != 0) {
    return Fail(errno, "mincore");
  }
  size_t resident = 0;
  for (unsigned char v : vec) resident += v & 1;
  *out = resident * page;
  return Ok();
}

// Faults every page in for writing without changing a byte, so it is safe while the JS thread is
// already appending into the same range: MADV_POPULATE_WRITE where the kernel has it (5.14+),
// else an atomic compare-and-swap of 0 for 0 per page (a locked cmpxchg always needs write
// access, so it takes the write fault, and it never stores anything but what is there).
void PrefaultRange(void* base, size_t offset, size_t length) {
  if (length == 0) return;
  auto* bytes = static_cast<uint8_t*>(base);
  const size_t page = PageSize();
  const size_t end = offset + length;
#ifdef MADV_POPULATE_WRITE
  // One system call faults a chunk in for writing without touching a byte (Linux 5.14+); older
  // kernels say EINVAL and get the page-by-page touch below. Small chunks: the call holds the
  // process's mmap lock throughout, and a thread that needs it for writing (V8 growing its heap)
  // and every page fault queued behind that one would wait for the whole call.
  //
  // Each chunk is first read into the page cache with MADV_WILLNEED, which does its reading (for
  // never-written blocks: zero-filling) without holding the mmap lock, and reads just the chunk.
  // A fault of the populate would instead read ahead as far as the device's read_ahead_kb (8 MiB
  // on the machine this was measured on: ~20 ms of zero-filling in one call) — the populate then
  // only maps pages that are there. The mapping keeps its readahead for writers that outrun this.
  constexpr size_t kChunk = 256 * 1024;
  size_t pos = offset - offset % page;
  while (pos < end) {
    const size_t n = end - pos < kChunk ? end - pos : kChunk;
    static_cast<void>(madvise(bytes + pos, n, MADV_WILLNEED));  // a hint; the populate decides
    if (madvise(bytes + pos, n, MADV_POPULATE_WRITE) != 0) {
      // EINVAL: the kernel lacks it; touch instead. Anything else (ENOMEM, EFAULT: the range is
      // not mapped, or a page cannot be had): a touch would fault fatally, and prefault is only a
      // hint, so stop.
      if (errno != EINVAL) return;
      break;
    }
    pos += n;
  }
  if (pos >= end) return;
  offset = pos;
#endif
  auto touch = [](uint8_t* p) {
    uint8_t expected = 0;
    __atomic_compare_exchange_n(p, &expected, uint8_t{0}, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  };
  // Read the range in first here too (see above), so the touches do not read ahead past it.
  const size_t from = offset - offset % page;
  static_cast<void>(madvise(bytes + from, end - from, MADV_WILLNEED));
  touch(bytes + offset);
  for (size_t pos = from + page; pos < end; pos += page) touch(bytes + pos);
}

}  // namespace tidemq
