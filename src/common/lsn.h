// WAL positions (LSNs) as byte offsets.
#ifndef PGRE_COMMON_LSN_H_
#define PGRE_COMMON_LSN_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace pgre {

using Lsn = std::uint64_t;

// Parses a PostgreSQL LSN in either text form "16/B374D848" or as a decimal
// byte count (what "lsn - '0/0'" returns, e.g. "97500059720"). Returns
// nullopt on anything else.
std::optional<Lsn> ParseLsn(std::string_view text);

}  // namespace pgre

#endif  // PGRE_COMMON_LSN_H_
