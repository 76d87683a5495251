// Gzip: the gzip encoding of a body (zlib), for Accept-Encoding: gzip.
#ifndef PGRE_HTTP_GZIP_H_
#define PGRE_HTTP_GZIP_H_

#include <string>
#include <string_view>

namespace pgre {

// `data` as a gzip stream (RFC 1952), at zlib's default level. Never fails
// on valid input (zlib only fails on out-of-memory: then "" is returned).
std::string Gzip(std::string_view data);

// The inverse, for tests; nullopt-like "" with *ok false on a bad stream.
std::string Gunzip(std::string_view data, bool* ok);

}  // namespace pgre

#endif  // PGRE_HTTP_GZIP_H_
