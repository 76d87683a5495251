#include "support/pq.h"

#include <libpq-fe.h>

#include <stdexcept>

namespace pgre::testing {

std::string QueryRows(const std::string& dsn, const std::string& sql) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string e = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error(e);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK ||
                  PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string out;
  for (int i = 0; ok && i < PQntuples(r); ++i) {
    if (i > 0) out += '\n';
    for (int j = 0; j < PQnfields(r); ++j) {
      if (j > 0) out += '|';
      out += PQgetvalue(r, i, j);
    }
  }
  const std::string e = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error(sql + ": " + e);
  return out;
}

std::string QueryFirst(const std::string& dsn, const std::string& sql) {
  const std::string rows = QueryRows(dsn, sql);
  return rows.substr(0, rows.find('\n'));
}

}  // namespace pgre::testing
