#include "pg/libpq_batch.h"

#include <libpq-fe.h>

#include "common/redact.h"

namespace pgre::libpq_internal {

std::string CleanMessage(const char* message, std::string_view fallback) {
  std::string out;
  if (message != nullptr) {
    std::string_view rest(message);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view()
                                          : rest.substr(nl + 1);
      const size_t b = line.find_first_not_of(" \t\r");
      if (b == std::string_view::npos) continue;
      const size_t e = line.find_last_not_of(" \t\r");
      if (!out.empty()) out += ' ';
      out.append(line.substr(b, e - b + 1));
    }
  }
  if (out.empty()) out.assign(fallback);
  return ScrubSecrets(out);
}

QueryResult ConvertResult(const pg_result* result) {
  QueryResult out;
  if (result == nullptr) {
    out.error = "no result";
    return out;
  }
  // libpq's accessors take a non-const pointer but do not modify the result.
  PGresult* r = const_cast<PGresult*>(result);
  const ExecStatusType status = PQresultStatus(r);
  switch (status) {
    case PGRES_TUPLES_OK:
    case PGRES_SINGLE_TUPLE:
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY: {
      out.ok = true;
      const int ncols = PQnfields(r);
      const int nrows = PQntuples(r);
      out.columns.reserve(ncols);
      for (int c = 0; c < ncols; ++c) {
        const char* name = PQfname(r, c);
        out.columns.emplace_back(name != nullptr ? name : "");
      }
      out.rows.reserve(nrows);
      for (int i = 0; i < nrows; ++i) {
        std::vector<std::optional<std::string>> row;
        row.reserve(ncols);
        for (int c = 0; c < ncols; ++c) {
          if (PQgetisnull(r, i, c)) {
            row.emplace_back(std::nullopt);
          } else {
            row.emplace_back(
                std::string(PQgetvalue(r, i, c),
                            static_cast<size_t>(PQgetlength(r, i, c))));
          }
        }
        out.rows.push_back(std::move(row));
      }
      return out;
    }
    case PGRES_PIPELINE_ABORTED:
      out.error = "not run: an earlier statement in the pipeline failed";
      return out;
    default:
      break;
  }
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  const char* sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string fallback = "query failed: ";
  fallback += PQresStatus(status);
  if (primary != nullptr && *primary != '\0') {
    out.error = CleanMessage(primary, fallback);
  } else {
    out.error = CleanMessage(PQresultErrorMessage(r), fallback);
  }
  if (sqlstate != nullptr && *sqlstate != '\0') {
    out.error += " (SQLSTATE ";
    out.error += sqlstate;
    out.error += ")";
  }
  return out;
}

std::string PreparedStatements::Name(const std::string& sql, bool* prepare) {
  *prepare = false;
  if (last_ != nullptr && last_->second.next != nullptr &&
      last_->second.next->first == sql) {
    last_ = last_->second.next;
    return last_->second.name;
  }
  Node* found = nullptr;
  if (auto it = names_.find(sql); it != names_.end()) {
    found = &*it;
  } else if (names_.size() < kMaxStatements) {
    *prepare = true;
    found =
        &*names_.emplace(sql, Entry{"pgre_" + std::to_string(next_++)}).first;
  } else {
    return "";
  }
  if (last_ != nullptr) last_->second.next = found;
  last_ = found;
  return found->second.name;
}

void PreparedStatements::Forget(const std::string& sql) {
  // No guess may point at the erased entry.
  for (auto& [text, entry] : names_) entry.next = nullptr;
  last_ = nullptr;
  names_.erase(sql);
}

void PreparedStatements::Clear() {
  last_ = nullptr;
  names_.clear();
}

bool SendPipeline(PGconn* conn, const std::vector<std::string>& queries,
                  PreparedStatements* prepared, std::vector<bool>* preparing,
                  Sync sync) {
  if (PQpipelineStatus(conn) == PQ_PIPELINE_OFF && !PQenterPipelineMode(conn)) {
    return false;
  }
  if (preparing != nullptr) preparing->assign(queries.size(), false);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    const std::string& q = queries[i];
    bool prepare = false;
    const std::string name =
        prepared != nullptr ? prepared->Name(q, &prepare) : std::string();
    if (name.empty()) {
      if (!PQsendQueryParams(conn, q.c_str(), 0, nullptr, nullptr, nullptr,
                             nullptr, 0)) {
        return false;
      }
    } else {
      if (prepare) {
        if (!PQsendPrepare(conn, name.c_str(), q.c_str(), 0, nullptr)) {
          return false;
        }
        if (preparing != nullptr) (*preparing)[i] = true;
      }
      if (!PQsendQueryPrepared(conn, name.c_str(), 0, nullptr, nullptr, nullptr,
                               0)) {
        return false;
      }
    }
    if (sync == Sync::kEach && !PQpipelineSync(conn)) return false;
  }
  if (sync == Sync::kOnce && !queries.empty() && !PQpipelineSync(conn)) {
    return false;
  }
  return true;
}

PipelineResults::PipelineResults(std::size_t queries,
                                 std::vector<bool> preparing, Sync sync)
    : out_(queries),
      filled_(queries, false),
      preparing_(std::move(preparing)),
      prepare_failed_(queries, false),
      aborted_(queries, false),
      sync_(sync) {
  preparing_.resize(queries, false);
}

PipelineResults::Step PipelineResults::Drain(PGconn* conn) {
  const std::size_t n = out_.size();
  // The current query's answer, from its first result that is not its
  // Prepare's success.
  auto fill = [this](const PGresult* r, ExecStatusType st) {
    out_[current_] = ConvertResult(r);
    filled_[current_] = true;
    if (st == PGRES_PIPELINE_ABORTED) aborted_[current_] = true;
  };
  const std::size_t syncs = sync_ == Sync::kEach ? n : (n > 0 ? 1 : 0);
  while (syncs_ < syncs) {
    if (PQisBusy(conn)) return kNeedInput;
    PGresult* r = PQgetResult(conn);
    if (PQstatus(conn) == CONNECTION_BAD) {
      PQclear(r);
      return kLost;
    }
    if (r == nullptr) {
      // Each command's results end with one null; under one sync that
      // moves on to the next command (a Prepare's null to its query's
      // execution). A few more nulls than commands means libpq and this
      // loop disagree about the protocol: give up, never spin.
      if (in_command_) {
        in_command_ = false;
        if (sync_ == Sync::kOnce && !in_prepare_) ++current_;
        in_prepare_ = false;
      } else if (++nulls_ > 3 * n + 2) {
        return kConfused;
      }
      continue;
    }
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_PIPELINE_SYNC) {
      ++syncs_;
      if (sync_ == Sync::kEach) current_ = syncs_;
      in_command_ = false;
      in_prepare_ = false;
    } else if (current_ >= n) {
      // More commands' results than were sent.
      PQclear(r);
      return kConfused;
    } else if (preparing_[current_]) {
      // The Prepare's own result: on success the query's follows; on
      // failure the query was not run (PIPELINE_ABORTED follows) and the
      // preparation's error is the query's.
      preparing_[current_] = false;
      in_command_ = true;
      in_prepare_ = true;
      if (st != PGRES_COMMAND_OK) {
        fill(r, st);
        prepare_failed_[current_] = true;
      }
    } else {
      in_command_ = true;
      if (!filled_[current_]) fill(r, st);
    }
    PQclear(r);
  }
  if (!PQexitPipelineMode(conn)) exit_failed_ = true;
  return kDone;
}

std::vector<QueryResult> PipelineResults::Take() {
  for (std::size_t i = 0; i < out_.size(); ++i) {
    if (!filled_[i]) out_[i].error = "no result";
  }
  return std::move(out_);
}

}  // namespace pgre::libpq_internal
