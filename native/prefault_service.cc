#include "prefault_service.h"

#include <pthread.h>

#include <cstdint>
#include <cstring>
#include <system_error>

#include "page_hints.h"

namespace tidemq {
namespace {

// cells[i] as the JS thread last stored it. An aligned 8-byte store is never torn on the
// platforms we build for; the atomic load keeps the compiler from caching it across the loop.
double LoadCell(const WriterCells* cells, int i) {
  const uint64_t bits =
      __atomic_load_n(reinterpret_cast<const uint64_t*>(&cells->values[i]), __ATOMIC_RELAXED);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

PrefaultService::~PrefaultService() { Stop(); }

WriterCells* PrefaultService::NewWriter() {
  std::lock_guard<std::mutex> lock(mu_);
  writers_.emplace_back();
  return &writers_.back();
}

bool PrefaultService::OwnsWriter(const WriterCells* cells) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const WriterCells& w : writers_) {
    if (&w == cells) return true;
  }
  return false;
}

PrefaultService::Job* PrefaultService::Find(const void* base) {
  for (Job& job : jobs_) {
    if (job.request.base == base) return &job;
  }
  return nullptr;
}

void PrefaultService::Follow(const FollowRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  if (Job* job = Find(request.base)) {
    // The thread polls its jobs every millisecond and reads the writer's position itself: waking
    // it here would only let it take the core from this (event loop) thread at once.
    job->request = request;
    job->lastWork = Clock::now();
    return;
  }
  auto it = reached_.find(request.base);
  jobs_.push_back(Job{request, it == reached_.end() ? 0 : it->second, Clock::now()});
  if (!thread_.joinable()) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {
      jobs_.clear();  // no thread (resources exhausted): prefault is only a hint
      return;
    }
  }
  wake_.notify_one();
}

void PrefaultService::Forget(const void* base) {
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = 0; i < jobs_.size(); i++) {
    if (jobs_[i].request.base == base) {
      jobs_.erase(jobs_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  reached_.erase(base);
  stepDone_.wait(lock, [&] { return busy_ != base; });
}

void PrefaultService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    jobs_.clear();
    reached_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t PrefaultService::jobCount() {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void PrefaultService::Run() {
#ifdef __linux__
  pthread_setname_np(pthread_self(), "tidemq-prefault");  // as top -H and perf show it
#endif
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<const void*> pass;
  while (!stopping_) {
    if (jobs_.empty()) {
      wake_.wait(lock);
      continue;
    }
    // One step for each job that has work, round-robin; sleep 1 ms after a pass with none.
    pass.clear();
    for (const Job& job : jobs_) pass.push_back(job.request.base);
    bool worked = false;
    for (const void* base : pass) {
      Job* job = Find(base);
      if (job == nullptr) continue;  // forgotten meanwhile
      const FollowRequest& r = job->request;
      double wrote = LoadCell(r.cells, 0) - r.segmentFrom;
      if (wrote != wrote) wrote = static_cast<double>(job->done) - static_cast<double>(r.lead);  // NaN: no target
      const double size = static_cast<double>(r.size);
      // pages behind the writer were faulted in by its own writes
      if (wrote > static_cast<double>(job->done)) {
        job->done = wrote >= size ? r.size : static_cast<size_t>(wrote);
      }
      const double want = wrote + static_cast<double>(r.lead);
      const size_t target = want <= 0 ? 0 : want >= size ? r.size : static_cast<size_t>(want);
      const bool finished = LoadCell(r.cells, 1) != 0 || job->done >= r.size;
      const bool idle = job->done >= target &&
                        Clock::now() - job->lastWork >= std::chrono::milliseconds(r.idleMs);
      if (finished || idle) {
        reached_[base] = job->done;
        jobs_.erase(jobs_.begin() + (job - jobs_.data()));
        continue;
      }
      if (job->done >= target) continue;
      void* stepBase = r.base;
      const size_t from = job->done;
      const size_t n = target - from < r.step ? target - from : r.step;
      busy_ = stepBase;
      lock.unlock();
      PrefaultRange(stepBase, from, n);
      lock.lock();
      busy_ = nullptr;
      stepDone_.notify_all();
      worked = true;
      if (Job* again = Find(stepBase)) {
        if (from + n > again->done) again->done = from + n;
        again->lastWork = Clock::now();
      }
      if (stopping_) break;
    }
    if (!worked && !stopping_) wake_.wait_for(lock, std::chrono::milliseconds(1));
  }
}

}  // namespace tidemq
