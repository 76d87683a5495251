// QueryResult: what one statement returned, as the collectors parse it.
#ifndef PGRE_PG_QUERY_RESULT_H_
#define PGRE_PG_QUERY_RESULT_H_

#include <optional>
#include <string>
#include <vector>

namespace pgre {

// The outcome of one statement. Values are in text form; NULL is nullopt.
struct QueryResult {
  bool ok = false;
  std::string error;  // set when !ok; never contains a password
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

}  // namespace pgre

#endif  // PGRE_PG_QUERY_RESULT_H_
