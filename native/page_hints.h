// Paging hints over a mapped range: madvise(2), and pre-touching never-written pages so that
// appends do not take first-touch page faults on the hot path.
#pragma once
#include <cstddef>

#include "sys_error.h"

namespace tidemq {

enum class Advice : int { kNormal = 0, kSequential = 1, kWillNeed = 2, kDontNeed = 3, kRandom = 4 };

// madvise over base[offset, offset+length), start aligned down to the page size.
SysError AdviseRange(void* base, size_t offset, size_t length, Advice advice);

// Writes a zero byte at offset and at every page boundary inside [offset, offset+length).
// Only for never-written space of a writable mapping.
void PrefaultRange(void* base, size_t offset, size_t length);

// Follows a writer: keeps [wrote, wrote + lead) of a segment faulted in, a step at a time, where
// wrote is the writer's physical offset, published by the JS thread in cells[0] (a double), less
// segmentFrom (the segment's first physical offset; negative while the writer is still in the
// segment before). Starts at `from`, skips to the writer when it is behind it, sleeps 1 ms when
// the lead is full, and returns how far it faulted in once the whole segment is, cells[1] is
// non-zero (stop), or it has had nothing to do for idleMs.
struct FollowOptions {
  size_t from = 0;
  size_t lead = 0;
  size_t step = 0;
  double segmentFrom = 0;
  int idleMs = 0;
};
size_t PrefaultFollow(void* base, size_t size, const double* cells, const FollowOptions& options);

}  // namespace tidemq
