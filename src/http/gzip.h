// Gzip: the gzip encoding of a body (zlib), for Accept-Encoding: gzip.
//
// At zlib's fastest level (1): a body of 1 000 servers (3.65 MB) takes
// 7.5 ms and gives 178 KB, where the default level (6) took 26 ms for
// 147 KB (pgre_scrape_bench --clusters=250 --mode=changed-all --gzip,
// docs/performance.md). Scraped every second by two Prometheus servers,
// the body is compressed up to twice a second: 21 % more bytes on the wire
// for a quarter of the CPU.
#ifndef PGRE_HTTP_GZIP_H_
#define PGRE_HTTP_GZIP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgre {

// `data` as a gzip stream (RFC 1952). Never fails
// on valid input (zlib only fails on out-of-memory: then "" is returned).
std::string Gzip(std::string_view data);

// A gzip stream in two parts, so that a large, slowly changing prefix is
// compressed once and reused with a small tail compressed per response:
// GzipStart(prefix) holds the gzip header and the prefix's deflate blocks,
// flushed to a byte boundary (no final block); GzipFinish(head, tail)
// compresses `tail` as the stream's last blocks and appends the trailer
// (CRC-32 of prefix + tail by crc32_combine, and the length).
// head.bytes + GzipFinish(head, tail) is one gzip member whose content is
// prefix + tail. Pure.
struct GzipHead {
  std::string bytes;
  unsigned long crc = 0;   // CRC-32 of the prefix
  std::uint64_t size = 0;  // length of the prefix
};
GzipHead GzipStart(std::string_view prefix);
// The same for a prefix in pieces, compressed as their concatenation
// without it being made.
GzipHead GzipStart(const std::vector<std::string_view>& prefix);
std::string GzipFinish(const GzipHead& head, std::string_view tail);

// The inverse, for tests; nullopt-like "" with *ok false on a bad stream.
std::string Gunzip(std::string_view data, bool* ok);

}  // namespace pgre

#endif  // PGRE_HTTP_GZIP_H_
