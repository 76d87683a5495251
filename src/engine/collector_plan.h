// CollectorPlan: which collectors run against a server and how their
// results become a PollOutcome's sample. Pure apart from logging.
//  - ForVersion: collectors whose MinServerVersion() is above the server's
//    version are skipped (success false); a server older than
//    kMinServerVersion is logged once per version change, so is one newer
//    than tested.
//  - Fill: parses each result into the sample; a failing collector only
//    clears its own collector_success entry (and is logged, once per change
//    of its error, and once when it works again); without the
//    "server" collector the poll fails.
//
// Thread safety: one thread at a time.
#ifndef PGRE_ENGINE_COLLECTOR_PLAN_H_
#define PGRE_ENGINE_COLLECTOR_PLAN_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/snapshot.h"
#include "collectors/collector.h"
#include "pg/query_result.h"

namespace pgre {

class CollectorPlan {
 public:
  // REQUIRES: collectors outlive the plan.
  CollectorPlan(std::string server_name,
                const std::vector<std::unique_ptr<Collector>>* collectors);

  // Chooses the collectors for a (new) connection to a server of
  // server_version_num `version` (0: unknown, run all).
  void ForVersion(int version);
  const std::vector<std::string>& queries() const { return queries_; }

  // The outcome of a batch that returned `results` (one per query).
  // *out's ok, error and sample are set; its times are the caller's.
  void Fill(const std::vector<QueryResult>& results, PollOutcome* out);

 private:
  std::string server_name_;
  const std::vector<std::unique_ptr<Collector>>* collectors_;
  std::vector<std::size_t> active_;            // indexes into *collectors_
  std::vector<std::string> queries_;           // of the active collectors
  int version_ = -1;                           // of the last ForVersion
  std::map<std::string, std::string> errors_;  // failing collector -> error
};

// Reconnect backoff: the first retry waits `initial`, each failure doubles
// it up to `max`; a success resets it. Pure.
class Backoff {
 public:
  Backoff(Duration initial, Duration max) : initial_(initial), max_(max) {}
  // Records a failure at `now`; returns when the next attempt may start.
  MonoTime Failed(MonoTime now);
  void Succeeded() { current_ = Duration::zero(); }
  Duration current() const { return current_; }

 private:
  Duration initial_, max_;
  Duration current_{0};
};

}  // namespace pgre

#endif  // PGRE_ENGINE_COLLECTOR_PLAN_H_
