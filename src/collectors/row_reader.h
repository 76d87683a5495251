// Shared parsing helpers for the collectors: shape checks and typed reads of
// one result row that record the first problem instead of throwing, so a
// collector's Parse() turns anything a (possibly lying) server sends into a
// Status.
//
// Thread safety: RowReader is not thread-safe; the free functions are.
#ifndef PGRE_COLLECTORS_ROW_READER_H_
#define PGRE_COLLECTORS_ROW_READER_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/lsn.h"
#include "common/status.h"
#include "pg/query_result.h"

namespace pgre {
namespace collectors_internal {

// Returns OK when `result` is ok, its columns are exactly `expected` (names
// and order), and every row has one value per column. Otherwise returns an
// error naming the first mismatch (or the result's own error when !ok).
Status CheckShape(const QueryResult& result,
                  std::span<const std::string_view> expected);

// Typed reads of the values of one row. Each getter returns the value, or
// the type's default/nullopt after recording an error; status() is the first
// error ("row R, column "NAME": <what>: "<value>""). Values echoed in errors
// are cut to 40 bytes.
// REQUIRES: CheckShape() passed for the result the row belongs to, and
// `col` < number of columns.
class RowReader {
 public:
  // `result` must outlive the reader.
  RowReader(const QueryResult& result, size_t row);

  // NULL -> "".
  std::string Text(size_t col);
  // Boolean "t" / "f"; NULL is an error.
  bool Bool(size_t col);
  // NULL -> nullopt. "t" / "f".
  std::optional<bool> OptBool(size_t col);
  // LSN as decimal byte count or "X/Y".
  std::optional<Lsn> OptLsn(size_t col);
  // Decimal integers in range; no sign for the unsigned one.
  std::optional<std::int64_t> OptInt64(size_t col);
  std::optional<std::uint64_t> OptUint64(size_t col);
  std::optional<int> OptInt(size_t col);
  // A finite decimal number ("1700000000.123456", "-0.5", "3").
  std::optional<double> OptDouble(size_t col);

  const Status& status() const { return status_; }

 private:
  const std::optional<std::string>& Value(size_t col) const;
  void Fail(size_t col, std::string_view what);

  const QueryResult& result_;
  const size_t row_;
  Status status_;
};

// Strict number parsers (whole string, no whitespace): nullopt on failure.
std::optional<std::int64_t> ParseInt64(std::string_view text);
std::optional<std::uint64_t> ParseUint64(std::string_view text);
std::optional<double> ParseFiniteDouble(std::string_view text);

}  // namespace collectors_internal
}  // namespace pgre

#endif  // PGRE_COLLECTORS_ROW_READER_H_
