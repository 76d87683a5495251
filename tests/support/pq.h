// QueryRows: one statement over a fresh libpq connection, for fixtures that
// read a server's or a manager's state (support/patroni.h,
// support/auto_failover.h).
// Thread safety: thread-safe (a connection per call).
#ifndef PGRE_TESTS_SUPPORT_PQ_H_
#define PGRE_TESTS_SUPPORT_PQ_H_

#include <string>

namespace pgre::testing {

// Runs `sql` on `dsn`. Returns the rows joined by '\n', their columns by
// '|' ("" for none). Throws std::runtime_error with libpq's message when
// the connection or the statement fails.
std::string QueryRows(const std::string& dsn, const std::string& sql);

// The first line of QueryRows (the first row).
std::string QueryFirst(const std::string& dsn, const std::string& sql);

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PQ_H_
