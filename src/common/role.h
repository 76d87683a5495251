#ifndef PGRE_COMMON_ROLE_H_
#define PGRE_COMMON_ROLE_H_

#include <string_view>

namespace pgre {

// The role a server is configured with (its observed role may differ, e.g.
// after a promotion; see ServerSample::in_recovery).
enum class Role { kPrimary, kReplica };

inline std::string_view RoleName(Role r) {
  return r == Role::kPrimary ? "primary" : "replica";
}

}  // namespace pgre

#endif  // PGRE_COMMON_ROLE_H_
