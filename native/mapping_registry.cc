#include "mapping_registry.h"

namespace tidemq {

void MappingRegistry::Add(void* base, MappingInfo info) {
  std::lock_guard<std::mutex> lock(mu_);
  live_[base] = info;
  mapped_.fetch_add(1, std::memory_order_relaxed);
}

void MappingRegistry::Remove(void* base) {
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(base);
  unmapped_.fetch_add(1, std::memory_order_relaxed);
}

bool MappingRegistry::Find(const void* base, MappingInfo* info) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(base);
  if (it == live_.end()) return false;
  *info = it->second;
  return true;
}

void MappingRegistry::Hold(const void* base) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(base);
  if (it != live_.end()) it->second.busy++;
}

void MappingRegistry::Unhold(const void* base) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(base);
  if (it != live_.end() && it->second.busy > 0) it->second.busy--;
}

}  // namespace tidemq
