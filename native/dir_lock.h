// The store directory's `lock` file: an exclusive, non-blocking flock(2) held for the life of
// the store. flock locks belong to the open file description, so a second LockFile of the same
// path fails even inside the same process. The kernel drops the lock when the process dies.
#pragma once
#include <string>

#include "sys_error.h"

namespace tidemq {

// Opens (creating, mode 0644) and locks path. On success *fd is the held descriptor.
// A lock held elsewhere fails with EWOULDBLOCK (== EAGAIN on Linux) from "flock".
SysError LockFile(const std::string& path, int* fd);

// Releases the lock and closes fd.
SysError UnlockFile(int fd);

}  // namespace tidemq
