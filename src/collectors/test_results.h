// Canned QueryResults for the collectors' unit tests.
#ifndef PGRE_COLLECTORS_TEST_RESULTS_H_
#define PGRE_COLLECTORS_TEST_RESULTS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/query_result.h"

namespace pgre {
namespace testing {

using Row = std::vector<std::optional<std::string>>;

inline QueryResult OkResult(std::vector<std::string> columns,
                            std::vector<Row> rows = {}) {
  QueryResult r;
  r.ok = true;
  r.columns = std::move(columns);
  r.rows = std::move(rows);
  return r;
}

inline QueryResult ErrorResult(std::string error) {
  QueryResult r;
  r.ok = false;
  r.error = std::move(error);
  return r;
}

}  // namespace testing
}  // namespace pgre

#endif  // PGRE_COLLECTORS_TEST_RESULTS_H_
