// A background thread that keeps mapped pages faulted in ahead of writers, so that appends do not
// take first-touch page faults. One per addon instance (per environment), started on first use.
//
// A writer publishes its physical write offset in a WriterCells slot that the service owns (so
// this thread never reads JS-owned memory), and asks the service to follow a mapping: keep
// [wrote, wrote + lead) of it faulted in, where wrote = the offset − the mapping's first physical
// offset (negative while the writer is still in an earlier segment). A job ends when its mapping
// is faulted in to the end, its writer's stop cell is set, or it had nothing to do for idleMs;
// asking again keeps it going. Before a mapping is unmapped, Forget drops its job and waits for a
// step in progress on it.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace tidemq {

// [0] the writer's physical write offset; [1] non-zero: stop following for this writer.
struct WriterCells {
  double values[2] = {0, 0};
};

struct FollowRequest {
  void* base = nullptr;
  size_t size = 0;
  WriterCells* cells = nullptr;
  double segmentFrom = 0;
  size_t lead = 0;
  size_t step = 0;
  int idleMs = 0;
};

class PrefaultService {
 public:
  PrefaultService() = default;
  PrefaultService(const PrefaultService&) = delete;
  PrefaultService& operator=(const PrefaultService&) = delete;
  ~PrefaultService();

  // A new writer slot, valid for the service's lifetime.
  WriterCells* NewWriter();
  bool OwnsWriter(const WriterCells* cells);
  // Start following request.base, or keep its job going (the request's parameters replace the
  // job's; how far it got stays).
  void Follow(const FollowRequest& request);
  // Drop base's job, and return once no step is running on it (call before unmapping base).
  void Forget(const void* base);
  // End the thread (joins). Follow after Stop does nothing.
  void Stop();
  size_t jobCount();

 private:
  using Clock = std::chrono::steady_clock;
  struct Job {
    FollowRequest request;
    size_t done = 0;
    Clock::time_point lastWork;
  };

  void Run();
  Job* Find(const void* base);

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable stepDone_;
  std::vector<Job> jobs_;
  // How far each followed mapping has been faulted in, kept when its job ends (until Forget): a
  // renewed follow starts there, rather than populating the lead again, which would dirty pages
  // that writeback had cleaned and write their zeros out a second time.
  std::unordered_map<const void*, size_t> reached_;
  std::deque<WriterCells> writers_;  // a deque never moves its elements
  const void* busy_ = nullptr;       // the mapping a step is faulting in right now
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tidemq
