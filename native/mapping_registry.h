// Per-addon-instance bookkeeping of live mappings: counters for tests and a table of base
// addresses, so that flush/advise/prefault refuse an ArrayBuffer that mapFile did not make and
// prefault refuses a read-only mapping. Held through a shared_ptr: ArrayBuffer finalizers can
// run after the addon instance is gone (environment teardown), and they still touch this.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace tidemq {

struct MappingInfo {
  size_t length = 0;
  bool readOnly = false;
  // The binding's per-mapping finalizer state (opaque here), so releaseMapping can reach it.
  void* owner = nullptr;
  // Native tasks (flush, seal, prefault) in flight on it: releaseMapping refuses while non-zero.
  int busy = 0;
};

class MappingRegistry {
 public:
  void Add(void* base, MappingInfo info);
  void Remove(void* base);
  // Returns false when base is not a live mapping of this registry.
  bool Find(const void* base, MappingInfo* info) const;
  // A native task starts / ends working on the mapping at base (no-op if it is not live).
  void Hold(const void* base);
  void Unhold(const void* base);

  uint64_t mapped() const { return mapped_.load(std::memory_order_relaxed); }
  uint64_t unmapped() const { return unmapped_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mu_;
  std::unordered_map<const void*, MappingInfo> live_;
  std::atomic<uint64_t> mapped_{0};
  std::atomic<uint64_t> unmapped_{0};
};

}  // namespace tidemq
