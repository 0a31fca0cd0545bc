// Per-environment state of the addon (one per main thread or worker thread). No globals.
#pragma once
#include <memory>

#include "flush.h"
#include "mapping_registry.h"

namespace tidemq {

struct AddonState {
  // shared: ArrayBuffer finalizers may outlive the addon instance at environment teardown.
  std::shared_ptr<MappingRegistry> mappings = std::make_shared<MappingRegistry>();
  FlushFaults flushFaults;
};

}  // namespace tidemq
