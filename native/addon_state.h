// Per-environment state of the addon (one per main thread or worker thread). No globals.
#pragma once
#include <memory>

#include "flush.h"
#include "mapping_registry.h"
#include "prefault_service.h"

namespace tidemq {

struct AddonState {
  // shared: ArrayBuffer finalizers may outlive the addon instance at environment teardown.
  std::shared_ptr<MappingRegistry> mappings = std::make_shared<MappingRegistry>();
  FlushFaults flushFaults;
  // shared for the same reason: a finalizer asks it to forget a mapping before unmapping it.
  std::shared_ptr<PrefaultService> prefaults = std::make_shared<PrefaultService>();

  ~AddonState() { prefaults->Stop(); }
};

}  // namespace tidemq
