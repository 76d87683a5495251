#include "collectors/row_reader.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "common/redact.h"

namespace pgre {
namespace collectors_internal {
namespace {

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out = "(";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out.append(names[i]);
  }
  out += ")";
  return out;
}

template <typename T>
std::optional<T> ParseWhole(std::string_view text) {
  if (text.empty()) return std::nullopt;
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

constexpr size_t kMaxEchoedValue = 40;

}  // namespace

Status CheckShape(const QueryResult& result,
                  std::span<const std::string_view> expected) {
  if (!result.ok) {
    return Status::Error(result.error.empty() ? "query failed" : result.error);
  }
  bool same = result.columns.size() == expected.size();
  for (size_t i = 0; same && i < expected.size(); ++i) {
    same = result.columns[i] == expected[i];
  }
  if (!same) {
    std::vector<std::string_view> got(result.columns.begin(),
                                      result.columns.end());
    return Status::Error("unexpected columns: want " +
                         JoinNames(std::vector<std::string_view>(
                             expected.begin(), expected.end())) +
                         ", got " + JoinNames(got));
  }
  for (size_t r = 0; r < result.rows.size(); ++r) {
    if (result.rows[r].size() != expected.size()) {
      return Status::Error("row " + std::to_string(r) + " has " +
                           std::to_string(result.rows[r].size()) +
                           " values for " + std::to_string(expected.size()) +
                           " columns");
    }
  }
  return Status::Ok();
}

std::optional<std::int64_t> ParseInt64(std::string_view text) {
  return ParseWhole<std::int64_t>(text);
}

std::optional<std::uint64_t> ParseUint64(std::string_view text) {
  return ParseWhole<std::uint64_t>(text);
}

std::optional<double> ParseFiniteDouble(std::string_view text) {
  std::optional<double> v = ParseWhole<double>(text);
  if (!v || !std::isfinite(*v)) return std::nullopt;
  return v;
}

RowReader::RowReader(const QueryResult& result, size_t row)
    : result_(result), row_(row) {}

const std::optional<std::string>& RowReader::Value(size_t col) const {
  return result_.rows[row_][col];
}

void RowReader::Fail(size_t col, std::string_view what) {
  if (!status_.ok()) return;
  std::string message = "row " + std::to_string(row_) + ", column \"" +
                        result_.columns[col] + "\": ";
  message.append(what);
  const std::optional<std::string>& v = Value(col);
  if (v) {
    message += ": \"";
    if (v->size() > kMaxEchoedValue) {
      message.append(*v, 0, kMaxEchoedValue);
      message += "...";
    } else {
      message += *v;
    }
    message += "\"";
  }
  status_ = Status::Error(ScrubSecrets(message));
}

std::string RowReader::Text(size_t col) {
  const std::optional<std::string>& v = Value(col);
  return v ? *v : std::string();
}

std::optional<bool> RowReader::OptBool(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  if (*v == "t") return true;
  if (*v == "f") return false;
  Fail(col, "not a boolean");
  return std::nullopt;
}

bool RowReader::Bool(size_t col) {
  if (!Value(col)) {
    Fail(col, "unexpected NULL");
    return false;
  }
  return OptBool(col).value_or(false);
}

std::optional<Lsn> RowReader::OptLsn(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  std::optional<Lsn> lsn = ParseLsn(*v);
  if (!lsn) Fail(col, "not an LSN");
  return lsn;
}

std::optional<std::int64_t> RowReader::OptInt64(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  std::optional<std::int64_t> n = ParseInt64(*v);
  if (!n) Fail(col, "not a 64-bit integer");
  return n;
}

std::optional<std::uint64_t> RowReader::OptUint64(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  std::optional<std::uint64_t> n = ParseUint64(*v);
  if (!n) Fail(col, "not an unsigned 64-bit integer");
  return n;
}

std::optional<int> RowReader::OptInt(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  std::optional<int> n = ParseWhole<int>(*v);
  if (!n) Fail(col, "not a 32-bit integer");
  return n;
}

std::optional<double> RowReader::OptDouble(size_t col) {
  const std::optional<std::string>& v = Value(col);
  if (!v) return std::nullopt;
  std::optional<double> d = ParseFiniteDouble(*v);
  if (!d) Fail(col, "not a finite number");
  return d;
}

}  // namespace collectors_internal
}  // namespace pgre
