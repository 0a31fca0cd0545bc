// Paging hints over a mapped range: madvise(2), and pre-touching never-written pages so that
// appends do not take first-touch page faults on the hot path.
#pragma once
#include <cstddef>

#include "sys_error.h"

namespace tidemq {

enum class Advice : int { kNormal = 0, kSequential = 1, kWillNeed = 2, kDontNeed = 3, kRandom = 4 };

// madvise over base[offset, offset+length), start aligned down to the page size.
SysError AdviseRange(void* base, size_t offset, size_t length, Advice advice);

// Bytes of base[offset, offset+length) (start aligned down to the page size) whose pages are in
// memory: mincore(2). For a shared file mapping that is the file's page cache, touched by this
// process or not (readahead shows here).
SysError ResidentBytes(void* base, size_t offset, size_t length, size_t* out);

// Writes a zero byte at offset and at every page boundary inside [offset, offset+length).
// Only for never-written space of a writable mapping.
void PrefaultRange(void* base, size_t offset, size_t length);

}  // namespace tidemq
