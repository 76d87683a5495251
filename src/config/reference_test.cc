// The key table against the things generated from it or documenting it:
// docs/configuration.md, config/pg_replica_exporter.yml, config/env.example
// and the defaults of the Config struct.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config/config_keys.h"

namespace pgre {
namespace {

const std::string kSourceDir = PGRE_SOURCE_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The documented default of a key, formatted from a default Config.
std::string ActualDefault(const KeyDef& key) {
  Config config;
  switch (key.type) {
    case KeyType::kString:
      return *key.string_field(config);
    case KeyType::kDuration:
      return FormatDuration(*key.duration_field(config));
    case KeyType::kInt:
      if (key.int_field != nullptr) {
        return std::to_string(*key.int_field(config));
      }
      if (key.size_field != nullptr) {
        return std::to_string(*key.size_field(config));
      }
      return key.optional_int_field(config)->has_value()
                 ? std::to_string(**key.optional_int_field(config))
                 : "(unset)";
    case KeyType::kBytes:
      return std::to_string(*key.bytes_field(config));
    case KeyType::kEnum:
      return std::string(FallbackName(*key.fallback_field(config)));
    case KeyType::kBool:
      return *key.bool_field(config) ? "true" : "false";
    case KeyType::kServer:
      return "(required)";
    case KeyType::kServerList:
      return config.replicas.empty() ? "[]" : "?";
    case KeyType::kClusterList:
      return "(none)";
    case KeyType::kPgBouncerList:
      return config.pgbouncers.empty() ? "[]" : "?";
    case KeyType::kStringList:
      return key.string_list_field(config)->empty() ? "[]" : "?";
  }
  return "?";
}

TEST_CASE("docs/configuration.md is ConfigReferenceMarkdown()", "[docs]") {
  const std::string path = kSourceDir + "/docs/configuration.md";
  const std::string want = ConfigReferenceMarkdown();
  if (const char* update = std::getenv("PGRE_UPDATE_DOCS");
      update != nullptr && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << want;
  }
  INFO("regenerate with PGRE_UPDATE_DOCS=1 config_tests '[docs]'");
  CHECK(ReadFile(path) == want);
}

TEST_CASE("The reference documents every key and variable", "[docs]") {
  const std::string md = ConfigReferenceMarkdown();
  for (const KeyDef& key : ConfigKeys()) {
    CHECK_THAT(md, Catch::Contains("| `" + std::string(key.path) + "` |"));
  }
  for (const ServerKeyDef& key : ServerKeys()) {
    CHECK_THAT(md, Catch::Contains("| `" + std::string(key.key) + "` |"));
  }
  for (const EnvVarDef& var : EnvVars()) {
    CHECK_THAT(md, Catch::Contains("| `" + std::string(var.name) + "` |"));
  }
  for (const PgBouncerKeyDef& key : PgBouncerKeys()) {
    CHECK_THAT(md, Catch::Contains("| `" + std::string(key.key) + "` |"));
  }
  CHECK_THAT(md, Catch::Contains("the file wins"));
}

TEST_CASE("Table defaults are the Config struct's defaults", "[docs]") {
  for (const KeyDef& key : ConfigKeys()) {
    INFO("key: " << key.path);
    CHECK(ActualDefault(key) == key.default_text);
  }
}

TEST_CASE("Env variables set existing keys of the right type", "[docs]") {
  for (const EnvVarDef& var : EnvVars()) {
    INFO("variable: " << var.name);
    const KeyDef* key = FindKey(var.key);
    switch (var.kind) {
      case EnvKind::kMilliseconds:
      case EnvKind::kDuration:
        REQUIRE(key != nullptr);
        CHECK(key->duration_field != nullptr);
        break;
      case EnvKind::kInt:
        REQUIRE(key != nullptr);
        CHECK(
            (key->int_field != nullptr || key->optional_int_field != nullptr));
        break;
      case EnvKind::kString:
        REQUIRE(key != nullptr);
        CHECK(key->string_field != nullptr);
        break;
      default:
        CHECK(key == nullptr);  // keys of servers are not in the table
    }
  }
}

TEST_CASE("The example config loads and shows every key's default", "[docs]") {
  const std::string path = kSourceDir + "/config/pg_replica_exporter.yml";
  std::string error;
  auto config = LoadConfigFile(path, &error);
  INFO(error);
  REQUIRE(config.has_value());
  CHECK(config->replicas.size() == 2);

  const std::string text = ReadFile(path);
  const Config defaults;
  Config loaded = *config;
  for (const KeyDef& key : ConfigKeys()) {
    INFO("key: " << key.path);
    const std::string leaf(key.path.substr(key.path.rfind('.') + 1));
    CHECK_THAT(text, Catch::Contains(leaf + ":"));
    // Every key the example sets is at its default.
    Config d = defaults;
    switch (key.type) {
      case KeyType::kString:
        CHECK(*key.string_field(loaded) == *key.string_field(d));
        break;
      case KeyType::kDuration:
        CHECK(*key.duration_field(loaded) == *key.duration_field(d));
        break;
      case KeyType::kInt:
        if (key.int_field != nullptr) {
          CHECK(*key.int_field(loaded) == *key.int_field(d));
        }
        break;
      case KeyType::kBytes:
        CHECK(*key.bytes_field(loaded) == *key.bytes_field(d));
        break;
      case KeyType::kEnum:
        CHECK(*key.fallback_field(loaded) == *key.fallback_field(d));
        break;
      default:
        break;
    }
  }
  for (const ServerKeyDef& key : ServerKeys()) {
    CHECK_THAT(text, Catch::Contains(std::string(key.key) + ":"));
  }
}

TEST_CASE("config/env.example loads in environment mode", "[docs]") {
  std::ifstream in(kSourceDir + "/config/env.example");
  REQUIRE(in.good());
  std::map<std::string, std::string> env;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    REQUIRE(eq != std::string::npos);
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  CHECK(HasSeedEnvironment(env));
  std::string error;
  auto config = LoadConfigFromEnv(env, &error);
  INFO(error);
  REQUIRE(config.has_value());
  CHECK(config->replicas_enabled);
  CHECK(config->replicas.size() == 3);
  CHECK(config->routing.health_check_interval == std::chrono::seconds(30));
  CHECK(config->app_pool_size == 100);
  CHECK(config->query_timeout == std::chrono::seconds(60));
}

}  // namespace
}  // namespace pgre
