// mmap of a segment file. The core knows nothing of JS: it maps and unmaps; the wrap layer
// (mapped_file_wrap.cc) hands the mapping to JS as an external ArrayBuffer.
//
// Create: open(O_CREAT|O_EXCL|O_RDWR|O_CLOEXEC, 0644) + posix_fallocate, so that a later store
// into the mapping can never need a block the disk does not have (that would be SIGBUS). If
// anything fails after the create, the partial file is unlinked: a crash between open and
// unlink can still leave a short file behind, which the store's loader rejects by its size.
// Open: the file must exist; size 0 means "its current size", otherwise the sizes must match.
// The fd is closed before returning; the mapping keeps the file referenced.
#pragma once
#include <cstddef>
#include <string>

#include "sys_error.h"

namespace tidemq {

enum MapFlag : int {
  kMapCreate = 1,
  kMapReadOnly = 2,
};

struct Mapping {
  void* base = nullptr;
  size_t length = 0;
};

// On success fills *out. On failure returns the errno and the call that failed; when the failure
// is a rule of ours rather than the kernel's (size mismatch, empty file), the code is EINVAL and
// *detail says what was wrong (otherwise *detail is null).
SysError MapFile(const std::string& path, size_t sizeBytes, int flags, Mapping* out,
                 const char** detail);

void UnmapFile(void* base, size_t length);

// Preallocate a file without mapping it, for a caller that maps it later (a commit log segment
// prepared off the JS thread: posix_fallocate can wait on the disk for block bitmaps while
// writeback is busy, ~12 ms seen). The file is made under `tempPath` (O_EXCL, fallocated, the
// partial file unlinked on failure) and only then given `finalPath` with renameat2
// RENAME_NOREPLACE (link + unlink where the filesystem has no such rename), so a file under
// finalPath is always complete. If finalPath exists already (someone created it meanwhile),
// the temp file is unlinked and *placed is false.
SysError AllocateFile(const std::string& tempPath, const std::string& finalPath, size_t sizeBytes,
                      bool* placed);

}  // namespace tidemq
