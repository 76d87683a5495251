#include "cluster/lag_state.h"

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace pgre {
namespace {

using Json = nlohmann::ordered_json;

long long Ns(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}
long long Ns(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}

}  // namespace

std::string EncodeLagState(const LagState& s) {
  Json j;
  j["format"] = LagState::kFormat;
  j["cluster"] = s.cluster;
  // As a string: JSON numbers lose precision past 2^53.
  j["system_identifier"] = std::to_string(s.system_identifier);
  j["primary"] = s.primary;
  j["timeline"] = s.timeline ? Json(*s.timeline) : Json(nullptr);
  j["boot_id"] = s.boot_id;
  j["saved_mono_ns"] = Ns(s.saved_mono);
  j["saved_wall_ns"] = Ns(s.saved_wall);
  Json replay = Json::object();
  for (const auto& [name, lsn] : s.last_replay) replay[name] = lsn;
  j["last_replay"] = std::move(replay);
  Json entries = Json::array();
  for (const WalEntry& e : s.entries) {
    entries.push_back(Json::array({Ns(e.at), e.lsn}));
  }
  j["entries"] = std::move(entries);
  return j.dump() + "\n";
}

std::optional<LagState> DecodeLagState(std::string_view text,
                                       std::string* error) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    *error = "not JSON";
    return std::nullopt;
  }
  auto fail = [&](std::string what) -> std::optional<LagState> {
    *error = std::move(what);
    return std::nullopt;
  };
  if (!j.is_object()) return fail("not a JSON object");
  if (!j.contains("format") || !j["format"].is_number_integer()) {
    return fail("no format number");
  }
  if (j["format"].get<long long>() != LagState::kFormat) {
    return fail("format " + j["format"].dump() + " is not " +
                std::to_string(LagState::kFormat));
  }
  LagState s;
  const auto str = [&](const char* key, std::string* out) {
    if (!j.contains(key) || !j[key].is_string()) return false;
    *out = j[key].get<std::string>();
    return true;
  };
  const auto i64 = [&](const char* key, long long* out) {
    if (!j.contains(key) || !j[key].is_number_integer()) return false;
    *out = j[key].get<long long>();
    return true;
  };
  std::string sysid;
  long long mono = 0, wall = 0;
  if (!str("cluster", &s.cluster)) return fail("cluster: missing");
  if (!str("system_identifier", &sysid)) {
    return fail("system_identifier: missing");
  }
  try {
    std::size_t used = 0;
    s.system_identifier = std::stoull(sysid, &used);
    if (used != sysid.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return fail("system_identifier: not a number");
  }
  if (!str("primary", &s.primary)) return fail("primary: missing");
  if (!str("boot_id", &s.boot_id)) return fail("boot_id: missing");
  if (!i64("saved_mono_ns", &mono)) return fail("saved_mono_ns: missing");
  if (!i64("saved_wall_ns", &wall)) return fail("saved_wall_ns: missing");
  s.saved_mono = MonoTime(std::chrono::nanoseconds(mono));
  s.saved_wall = WallTime(std::chrono::nanoseconds(wall));
  if (j.contains("timeline") && !j["timeline"].is_null()) {
    if (!j["timeline"].is_number_integer()) return fail("timeline: bad");
    s.timeline = j["timeline"].get<std::int64_t>();
  }
  if (!j.contains("last_replay") || !j["last_replay"].is_object()) {
    return fail("last_replay: missing");
  }
  for (const auto& [name, lsn] : j["last_replay"].items()) {
    if (!lsn.is_number_unsigned()) return fail("last_replay." + name + ": bad");
    s.last_replay[name] = lsn.get<Lsn>();
  }
  if (!j.contains("entries") || !j["entries"].is_array()) {
    return fail("entries: missing");
  }
  const Json& entries = j["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Json& e = entries[i];
    const std::string at = "entries[" + std::to_string(i) + "]";
    if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() ||
        !e[1].is_number_unsigned()) {
      return fail(at + ": not [time, lsn]");
    }
    WalEntry entry{MonoTime(std::chrono::nanoseconds(e[0].get<long long>())),
                   e[1].get<Lsn>()};
    if (!s.entries.empty() && (entry.at <= s.entries.back().at ||
                               entry.lsn <= s.entries.back().lsn)) {
      return fail(at + ": not after the entry before it");
    }
    if (entry.at > s.saved_mono) return fail(at + ": after the save");
    s.entries.push_back(entry);
  }
  return s;
}

std::string CheckLagState(const LagState& state, std::string_view cluster,
                          WallTime now_wall, Duration max_age) {
  if (state.cluster != cluster) {
    return "saved for cluster \"" + state.cluster + "\"";
  }
  if (state.saved_wall > now_wall + std::chrono::minutes(1)) {
    return "saved in the future";
  }
  const auto age =
      std::chrono::duration_cast<Duration>(now_wall - state.saved_wall);
  if (age > max_age) {
    return "saved " + FormatDuration(age) + " ago, older than the history's " +
           "max_age " + FormatDuration(max_age);
  }
  return "";
}

std::vector<WalEntry> EntriesOnThisClock(const LagState& state,
                                         std::string_view boot_id,
                                         MonoTime now_mono, WallTime now_wall) {
  std::vector<WalEntry> out = state.entries;
  if (!boot_id.empty() && boot_id == state.boot_id) return out;
  // Another boot: the saved monotonic times mean nothing here. An entry
  // saved d before the save is now (now_wall - saved_wall) + d old.
  const auto since_save = now_wall - state.saved_wall;
  for (WalEntry& e : out) {
    const auto before_save = state.saved_mono - e.at;
    e.at = now_mono - std::chrono::duration_cast<MonoTime::duration>(
                          since_save + before_save);
  }
  return out;
}

}  // namespace pgre
