#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace tidemq {
namespace {

// Closes the fd on every path; unlinks the file unless released (create path only).
class FileGuard {
 public:
  FileGuard(int fd, const std::string* unlinkPath) : fd_(fd), unlinkPath_(unlinkPath) {}
  ~FileGuard() {
    if (fd_ >= 0) close(fd_);
    if (unlinkPath_ != nullptr) unlink(unlinkPath_->c_str());
  }
  void Keep() { unlinkPath_ = nullptr; }
  FileGuard(const FileGuard&) = delete;
  FileGuard& operator=(const FileGuard&) = delete;

 private:
  int fd_;
  const std::string* unlinkPath_;
};

}  // namespace

SysError MapFile(const std::string& path, size_t sizeBytes, int flags, Mapping* out,
                 const char** detail) {
  *detail = nullptr;
  const bool create = (flags & kMapCreate) != 0;
  const bool readOnly = (flags & kMapReadOnly) != 0;
  if (create && readOnly) {
    *detail = "create and readOnly exclude each other";
    return Fail(EINVAL, "open");
  }
  if (create && sizeBytes == 0) {
    *detail = "cannot create an empty mapping";
    return Fail(EINVAL, "posix_fallocate");
  }

  int fd;
  if (create) {
    fd = open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
  } else {
    fd = open(path.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  }
  if (fd < 0) return Fail(errno, "open");
  FileGuard guard(fd, create ? &path : nullptr);

  size_t length = sizeBytes;
  if (create) {
    // posix_fallocate returns the error number; it does not set errno.
    int rc = posix_fallocate(fd, 0, static_cast<off_t>(sizeBytes));
    if (rc != 0) return Fail(rc, "posix_fallocate");
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0) return Fail(errno, "fstat");
    const size_t fileSize = static_cast<size_t>(st.st_size);
    if (sizeBytes == 0) {
      length = fileSize;
    } else if (sizeBytes != fileSize) {
      *detail = "file size differs from the requested size";
      return Fail(EINVAL, "fstat");
    }
    if (length == 0) {
      *detail = "file is empty (a zero-length mapping is impossible)";
      return Fail(EINVAL, "mmap");
    }
  }

  const int prot = readOnly ? PROT_READ : (PROT_READ | PROT_WRITE);
  void* base = mmap(nullptr, length, prot, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return Fail(errno, "mmap");
  guard.Keep();
  out->base = base;
  out->length = length;
  return Ok();
}

void UnmapFile(void* base, size_t length) { munmap(base, length); }

SysError AllocateFile(const std::string& tempPath, const std::string& finalPath, size_t sizeBytes,
                      bool* placed) {
  *placed = false;
  if (sizeBytes == 0) return Fail(EINVAL, "posix_fallocate");
  const int fd = open(tempPath.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(errno, "open");
  FileGuard guard(fd, &tempPath);
  const int rc = posix_fallocate(fd, 0, static_cast<off_t>(sizeBytes));
  if (rc != 0) return Fail(rc, "posix_fallocate");
  if (renameat2(AT_FDCWD, tempPath.c_str(), AT_FDCWD, finalPath.c_str(), RENAME_NOREPLACE) == 0) {
    guard.Keep();
    *placed = true;
    return Ok();
  }
  if (errno == EEXIST) return Ok();  // the guard unlinks the temp file
  if (errno != EINVAL && errno != ENOSYS) return Fail(errno, "renameat2");
  // No RENAME_NOREPLACE here: link() refuses an existing name just the same.
  if (link(tempPath.c_str(), finalPath.c_str()) == 0) {
    *placed = true;  // the guard unlinks the temp name; the file lives on under finalPath
    return Ok();
  }
  if (errno == EEXIST) return Ok();
  return Fail(errno, "link");
}

}  // namespace tidemq
