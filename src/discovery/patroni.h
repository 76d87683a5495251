// Members discovered from Patroni: its REST API's GET /cluster answer
// parsed, and a cluster's servers made from its configured ones and the
// discovered members. Pure: no I/O (engine/patroni_poller.h fetches).
//
// Merge rules (MergeMembers):
//  - a configured server keeps its configuration (its DSN wins); a member
//    of the same name is that server;
//  - every other member becomes a replica named after the member, with
//    `discovery.patroni.dsn_template` ({host}, {port}, {name} replaced by
//    the member's values), the discovery password file, and the member's
//    name as application_name (Patroni's standbys use it);
//  - the server list's first place (the "configured primary", what the
//    topology expects until it observes) is the configured primary when
//    there is one, else the member that had it before (so that a failover
//    changes no place: the topology follows it), else Patroni's leader,
//    else the first member by name;
//  - replicas: the configured ones in configured order, then discovered
//    ones by name; a discovered member that disappears is dropped, a
//    configured one never is.
//
// Thread safety: every function is thread-safe.
#ifndef PGRE_DISCOVERY_PATRONI_H_
#define PGRE_DISCOVERY_PATRONI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace pgre {

// One member as GET /cluster lists it.
struct PatroniMember {
  std::string name;
  std::string host;
  int port = 0;
  // "leader", "replica", "sync_standby", "standby_leader", ...
  std::string role;
  // "running", "streaming", "stopped", "starting", ...
  std::string state;
  std::optional<std::int64_t> timeline;
  bool operator==(const PatroniMember&) const = default;
};

// Parses GET /cluster's body: {"members": [{"name", "host", "port",
// "role", "state", "timeline"?}, ...], ...}. Returns the members sorted
// by name, or nullopt and *error ("not JSON", "member 2: no port", ...)
// when it is not that shape. A member without a name, host or port is an
// error: it could not be polled.
std::optional<std::vector<PatroniMember>> ParsePatroniCluster(
    std::string_view body, std::string* error);

// The name of the member whose role is "leader" (or "standby_leader" for a
// standby cluster), or "" for none.
std::string PatroniLeader(const std::vector<PatroniMember>& members);

// `dsn_template` with {host}, {port} and {name} replaced. The values are
// Patroni's (host names, addresses, a number, a member name); a value with
// a character that would change the DSN's meaning (space, quote,
// backslash, '=') is rejected: nullopt.
std::optional<std::string> ExpandDsnTemplate(std::string_view dsn_template,
                                             const PatroniMember& member);

// The cluster's config with its servers made of `configured`'s and the
// members (see the file comment). A member whose DSN does not check out
// (FinishServer) is left out and described in *skipped (no secrets).
// `previous_first`: the first place's server name of the list in use
// ("" for none). When there is no server at all (nothing configured, no
// member), returns nullopt.
std::optional<Config> MergeMembers(const Config& configured,
                                   const std::vector<PatroniMember>& members,
                                   const std::string& previous_first,
                                   std::vector<std::string>* skipped);

// Whether two configs poll the same servers the same way: the same names,
// in the same places, with the same DSNs, passwords and application names.
bool SameServers(const Config& a, const Config& b);

}  // namespace pgre

#endif  // PGRE_DISCOVERY_PATRONI_H_
