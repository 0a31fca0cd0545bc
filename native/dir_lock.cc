#include "dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace tidemq {

SysError LockFile(const std::string& path, int* fd) {
  const int opened = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (opened < 0) return Fail(errno, "open");
  if (flock(opened, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(opened);
    return Fail(err, "flock");
  }
  *fd = opened;
  return Ok();
}

SysError UnlockFile(int fd) {
  if (flock(fd, LOCK_UN) != 0) return Fail(errno, "flock");
  if (close(fd) != 0) return Fail(errno, "close");
  return Ok();
}

}  // namespace tidemq
