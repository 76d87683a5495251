// The HA manager's view beside the servers' (discovery.patroni): whether
// they disagree on the primary. Pure.
#ifndef PGRE_CLUSTER_MANAGER_H_
#define PGRE_CLUSTER_MANAGER_H_

#include <string>

#include "cluster/snapshot.h"

namespace pgre {

// The primary as the servers say it: the adopted primary's name while it is
// the one server out of recovery; "" otherwise (none, split brain, or not
// observed yet).
std::string ObservedPrimaryName(const Snapshot& snapshot);

// True while the manager's last answer (fresh: the last discovery
// succeeded) names a leader other than the observed primary, or names one
// while the servers show none or several, or none while the servers show
// one: a manager that lost its store, a paused cluster, a hand-promoted
// replica. False without discovery, while it fails, or until every server
// has been polled once.
bool ManagerLeaderMismatch(const Snapshot& snapshot);

}  // namespace pgre

#endif  // PGRE_CLUSTER_MANAGER_H_
