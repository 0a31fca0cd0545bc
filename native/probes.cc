#include "probes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace tidemq {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t NsSince(Clock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

// Shared state of the group-commit probe. All fields are guarded by mu.
struct GroupCommit {
  std::mutex mu;
  std::condition_variable synced;
  int fd = -1;
  uint64_t writtenBytes = 0;
  uint64_t syncedBytes = 0;
  bool syncing = false;
  SysError error;
  uint64_t ops = 0;
  uint64_t syncs = 0;
};

void GroupCommitThread(GroupCommit* gc, const std::vector<uint8_t>* record,
                       Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(gc->mu);
  while (!gc->error && Clock::now() < deadline) {
    // Append at the file end under the lock, so writes are whole and ordered.
    const ssize_t n = write(gc->fd, record->data(), record->size());
    if (n < 0 || static_cast<size_t>(n) != record->size()) {
      gc->error = Fail(n < 0 ? errno : EIO, "write");
      gc->synced.notify_all();
      break;
    }
    gc->writtenBytes += record->size();
    const uint64_t mine = gc->writtenBytes;
    while (gc->syncedBytes < mine && !gc->error) {
      if (gc->syncing) {
        gc->synced.wait(lock);
        continue;
      }
      // Leader: everything written so far is covered by this one fdatasync.
      gc->syncing = true;
      const uint64_t target = gc->writtenBytes;
      lock.unlock();
      const int rc = fdatasync(gc->fd);
      const int err = errno;
      lock.lock();
      gc->syncing = false;
      if (rc != 0) {
        gc->error = Fail(err, "fdatasync");
      } else {
        gc->syncedBytes = target;
        ++gc->syncs;
      }
      gc->synced.notify_all();
    }
    if (gc->error) break;
    ++gc->ops;
  }
}

}  // namespace

ProbeResult ProbeMemcpy(void* base, size_t length, size_t recordBytes, uint64_t count) {
  std::vector<uint8_t> record(recordBytes);
  for (size_t i = 0; i < recordBytes; ++i) record[i] = static_cast<uint8_t>(i * 31 + 7);
  auto* dst = static_cast<uint8_t*>(base);
  const auto t0 = Clock::now();
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (length - pos < recordBytes) pos = 0;
    std::memcpy(dst + pos, record.data(), recordBytes);
    pos += recordBytes;
  }
  ProbeResult result;
  result.ops = count;
  result.elapsedNs = NsSince(t0);
  return result;
}

SysError ProbeGroupCommit(const std::string& path, unsigned concurrency, size_t recordBytes,
                          uint64_t durationMs, ProbeResult* out) {
  GroupCommit gc;
  gc.fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (gc.fd < 0) return Fail(errno, "open");
  std::vector<uint8_t> record(recordBytes, 0x5A);

  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(durationMs);
  std::vector<std::thread> threads;
  threads.reserve(concurrency);
  for (unsigned i = 0; i < concurrency; ++i) {
    try {
      threads.emplace_back(GroupCommitThread, &gc, &record, deadline);
    } catch (const std::system_error& e) {
      std::lock_guard<std::mutex> lock(gc.mu);
      gc.error = Fail(e.code().value(), "pthread_create");
      gc.synced.notify_all();
      break;
    }
  }
  for (auto& t : threads) t.join();
  out->elapsedNs = NsSince(t0);
  out->ops = gc.ops;
  out->syncs = gc.syncs;
  close(gc.fd);
  unlink(path.c_str());
  return gc.error;
}

}  // namespace tidemq
