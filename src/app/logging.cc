#include "app/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/redact.h"

namespace pgre {
namespace {

std::string Timestamp(spdlog::log_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

// logfmt value: bare when safe, else quoted with \" and \\ escaped.
std::string LogfmtValue(const std::string& v) {
  bool bare = !v.empty();
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      bare = false;
    }
  }
  if (bare) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

class ScrubbingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ScrubbingSink(std::string format) : format_(std::move(format)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text =
        ScrubSecrets(std::string_view(msg.payload.data(), msg.payload.size()));
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string line =
        FormatLogLine(format_, Timestamp(msg.time),
                      std::string(level.data(), level.size()), text);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fputc('\n', stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string format_;
};

}  // namespace

std::string FormatLogLine(const std::string& format, const std::string& ts,
                          const std::string& level, const std::string& msg) {
  if (format == "json") {
    nlohmann::json j = {{"ts", ts}, {"level", level}, {"msg", msg}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return "ts=" + ts + " level=" + level + " msg=" + LogfmtValue(msg);
}

bool SetupLogging(const std::string& level, const std::string& format,
                  std::string* error) {
  if (format != "logfmt" && format != "json") {
    *error = "--log.format: must be logfmt or json, not \"" + format + "\"";
    return false;
  }
  spdlog::level::level_enum lvl;
  if (level == "debug") {
    lvl = spdlog::level::debug;
  } else if (level == "info") {
    lvl = spdlog::level::info;
  } else if (level == "warn") {
    lvl = spdlog::level::warn;
  } else if (level == "error") {
    lvl = spdlog::level::err;
  } else {
    *error = "--log.level: must be debug, info, warn or error, not \"" + level +
             "\"";
    return false;
  }
  auto logger = std::make_shared<spdlog::logger>(
      "pg_replica_exporter", std::make_shared<ScrubbingSink>(format));
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace pgre
