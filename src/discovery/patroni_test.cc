#include "discovery/patroni.h"

#include <catch2/catch.hpp>

#include "common/redact.h"
#include "config/config_keys.h"

namespace pgre {
namespace {

// Patroni 3.0's GET /cluster, as a real three-member cluster answers it.
constexpr const char* kCluster = R"({"members": [
  {"name": "pg2", "role": "replica", "state": "streaming",
   "api_url": "http://127.0.0.1:8009/patroni", "host": "10.0.0.2",
   "port": 5432, "timeline": 3, "lag": 0},
  {"name": "pg1", "role": "leader", "state": "running",
   "api_url": "http://127.0.0.1:8008/patroni", "host": "10.0.0.1",
   "port": 5432, "timeline": 3},
  {"name": "pg3", "role": "replica", "state": "stopped",
   "api_url": "http://127.0.0.1:8010/patroni", "host": "db3.example",
   "port": 6432, "lag": "unknown"}
], "scope": "demo"})";

PatroniMember Member(const std::string& name, const std::string& role,
                     const std::string& host = "10.0.0.9", int port = 5432) {
  PatroniMember m;
  m.name = name;
  m.role = role;
  m.state = "running";
  m.host = host;
  m.port = port;
  return m;
}

Config Discovering(const std::string& primary = "") {
  Config c;
  c.cluster = "ha";
  c.discovery.patroni.urls = {"http://10.0.0.1:8008"};
  c.discovery.patroni.dsn_template =
      "host={host} port={port} dbname=postgres user=mon "
      "password=omega-tmpl-secret application_name=agent-{name}";
  if (!primary.empty()) {
    c.primary.name = primary;
    c.primary.role = Role::kPrimary;
    c.primary.dsn = "host=configured-" + primary + " user=other";
    std::string problem;
    REQUIRE(FinishServer(&c.primary, &problem));
  }
  return c;
}

std::vector<std::string> Names(const Config& c) {
  std::vector<std::string> out;
  for (const ServerConfig& s : AllServers(c)) out.push_back(s.name);
  return out;
}

TEST_CASE("patroni: GET /cluster parsed, members by name", "[discovery]") {
  std::string error;
  auto members = ParsePatroniCluster(kCluster, &error);
  INFO(error);
  REQUIRE(members);
  REQUIRE(members->size() == 3);
  CHECK((*members)[0].name == "pg1");
  CHECK((*members)[0].role == "leader");
  CHECK((*members)[0].host == "10.0.0.1");
  CHECK((*members)[0].timeline == 3);
  CHECK((*members)[2].name == "pg3");
  CHECK((*members)[2].port == 6432);
  CHECK((*members)[2].state == "stopped");
  CHECK_FALSE((*members)[2].timeline);
  CHECK(PatroniLeader(*members) == "pg1");
  CHECK(PatroniLeader({Member("a", "replica"), Member("b", "replica")}) == "");
  CHECK(PatroniLeader({Member("s", "standby_leader")}) == "s");
}

TEST_CASE("patroni: answers that are not a member list", "[discovery]") {
  struct Case {
    const char* body;
    const char* error;
  };
  for (const Case& c : {
           Case{"<html>", "not a JSON object"},
           Case{"[]", "not a JSON object"},
           Case{"{}", "no \"members\" list"},
           Case{R"({"members": {}})", "no \"members\" list"},
           Case{R"({"members": [1]})", "member 0: not an object"},
           Case{R"({"members": [{"host": "h", "port": 1}]})",
                "member 0: no name"},
           Case{R"({"members": [{"name": "a", "port": 1}]})",
                "member 0 (a): no host"},
           Case{R"({"members": [{"name": "a", "host": "h", "port": "5432"}]})",
                "member 0 (a): no port"},
           Case{R"({"members": [{"name": "a", "host": "h", "port": 70000}]})",
                "member 0 (a): no port"},
           Case{R"({"members": [{"name": "a", "host": "h", "port": 1},
                                {"name": "a", "host": "i", "port": 2}]})",
                "member a listed twice"},
       }) {
    INFO(c.body);
    std::string error;
    CHECK_FALSE(ParsePatroniCluster(c.body, &error));
    CHECK(error == c.error);
  }
  std::string error;
  auto none = ParsePatroniCluster(R"({"members": []})", &error);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("patroni: the DSN template", "[discovery]") {
  const PatroniMember m = Member("pg4", "replica", "db4.example", 6543);
  CHECK(
      ExpandDsnTemplate("host={host} port={port} application_name={name}", m) ==
      "host=db4.example port=6543 application_name=pg4");
  CHECK(ExpandDsnTemplate("postgresql://mon@{host}:{port}/postgres", m) ==
        "postgresql://mon@db4.example:6543/postgres");
  // A value that would change the DSN's meaning is refused.
  for (const char* host : {"a b", "a'b", "a=b", "a\\b", "a\"b"}) {
    INFO(host);
    CHECK_FALSE(ExpandDsnTemplate("host={host}", Member("x", "r", host)));
  }
  CHECK_FALSE(ExpandDsnTemplate("host={host}", Member("x y", "r")));
}

TEST_CASE("patroni: members merged with the configured servers",
          "[discovery]") {
  std::vector<std::string> skipped;
  const std::vector<PatroniMember> three = {
      Member("pg1", "leader", "10.0.0.1"), Member("pg2", "replica", "10.0.0.2"),
      Member("pg3", "replica", "10.0.0.3")};

  SECTION("nothing configured: the leader first, the others by name") {
    auto c = MergeMembers(Discovering(), three, "", &skipped);
    REQUIRE(c);
    CHECK(Names(*c) == std::vector<std::string>{"pg1", "pg2", "pg3"});
    CHECK(c->primary.role == Role::kPrimary);
    CHECK(c->replicas[0].role == Role::kReplica);
    CHECK(c->replicas[0].application_name == "pg2");
    CHECK(c->replicas[0].host == "10.0.0.2");
    CHECK(c->replicas[0].endpoint == "10.0.0.2:5432");
    // Redacted as any configured DSN; the template's password is a secret.
    CHECK(c->replicas[0].redacted_dsn.find("omega-tmpl-secret") ==
          std::string::npos);
    CHECK(ScrubSecrets("omega-tmpl-secret") == "xxxxx");
    CHECK(skipped.empty());
  }
  SECTION("a failover moves no place: the first stays first") {
    const std::vector<PatroniMember> failed_over = {
        Member("pg1", "replica", "10.0.0.1"),
        Member("pg2", "leader", "10.0.0.2"),
        Member("pg3", "replica", "10.0.0.3")};
    auto before = MergeMembers(Discovering(), three, "", &skipped);
    auto after = MergeMembers(Discovering(), failed_over, "pg1", &skipped);
    REQUIRE(before);
    REQUIRE(after);
    CHECK(SameServers(*before, *after));
    // Without the previous list, the leader takes the first place.
    auto fresh = MergeMembers(Discovering(), failed_over, "", &skipped);
    CHECK(Names(*fresh) == std::vector<std::string>{"pg2", "pg1", "pg3"});
  }
  SECTION("a configured server wins by name; its place and DSN stay") {
    Config configured = Discovering("pg2");
    ServerConfig extra;
    extra.name = "analytics";
    extra.dsn = "host=analytics";
    std::string problem;
    REQUIRE(FinishServer(&extra, &problem));
    configured.replicas.push_back(extra);
    auto c = MergeMembers(configured, three, "", &skipped);
    REQUIRE(c);
    CHECK(Names(*c) ==
          std::vector<std::string>{"pg2", "analytics", "pg1", "pg3"});
    CHECK(c->primary.dsn == "host=configured-pg2 user=other");
    // A member gone: dropped; a configured server never is.
    auto fewer = MergeMembers(configured, {three[1]}, "pg2", &skipped);
    REQUIRE(fewer);
    CHECK(Names(*fewer) == std::vector<std::string>{"pg2", "analytics"});
  }
  SECTION("a member whose DSN does not check out is left out, said why") {
    auto c = MergeMembers(Discovering(),
                          {three[0], Member("bad", "replica", "x'y"), three[2]},
                          "", &skipped);
    REQUIRE(c);
    CHECK(Names(*c) == std::vector<std::string>{"pg1", "pg3"});
    REQUIRE(skipped.size() == 1);
    CHECK(skipped[0] == "member bad: its host or name would change the DSN");
  }
  SECTION("no server at all") {
    CHECK_FALSE(MergeMembers(Discovering(), {}, "", &skipped));
    auto configured = MergeMembers(Discovering("pg1"), {}, "", &skipped);
    REQUIRE(configured);
    CHECK(Names(*configured) == std::vector<std::string>{"pg1"});
  }
  SECTION("SameServers: names, places and connections") {
    auto a = MergeMembers(Discovering(), three, "", &skipped);
    std::vector<PatroniMember> moved = three;
    moved[2].port = 6000;
    auto b = MergeMembers(Discovering(), moved, "pg1", &skipped);
    CHECK_FALSE(SameServers(*a, *b));
    auto c = MergeMembers(Discovering(), three, "pg1", &skipped);
    CHECK(SameServers(*a, *c));
  }
}

}  // namespace
}  // namespace pgre
