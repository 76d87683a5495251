#include "collectors/collector.h"

#include "collectors/builtin.h"

namespace pgre {

std::vector<std::unique_ptr<Collector>> DefaultCollectors() {
  std::vector<std::unique_ptr<Collector>> out;
  out.push_back(NewServerCollector());
  out.push_back(NewStatReplicationCollector());
  out.push_back(NewReplicationSlotsCollector());
  out.push_back(NewWalReceiverCollector());
  out.push_back(NewActivityCollector());
  return out;
}

}  // namespace pgre
