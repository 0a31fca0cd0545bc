// Machine-ceiling probes for the benchmark suite: what the hardware does with no store in the
// way. ProbeMemcpy: the cost of copying records into a mapping. ProbeGroupCommit: appends with
// write(2) from several threads, each waiting until an fdatasync covering its write completed;
// one thread at a time syncs (the leader) and its sync covers every write that came before it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "sys_error.h"

namespace tidemq {

struct ProbeResult {
  uint64_t ops = 0;
  uint64_t syncs = 0;
  uint64_t elapsedNs = 0;
};

// Copies one recordBytes pattern `count` times into base[0, length), wrapping to 0 when the
// next record would not fit. Requires 0 < recordBytes <= length.
ProbeResult ProbeMemcpy(void* base, size_t length, size_t recordBytes, uint64_t count);

// Creates (truncating) path, runs for durationMs, unlinks path. Returns the first error any
// thread met, if one did (the probe then stops early).
SysError ProbeGroupCommit(const std::string& path, unsigned concurrency, size_t recordBytes,
                          uint64_t durationMs, ProbeResult* out);

}  // namespace tidemq
