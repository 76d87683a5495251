#include "http/text_format.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "cluster/example_cluster.h"
#include "http/metrics.h"

namespace pgre {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string Library(const std::vector<MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

MetricFamily GaugeOf(double value) {
  MetricFamily f{"g", "A gauge.", MetricType::Gauge, {}};
  ClientMetric m;
  m.gauge.value = value;
  f.metric.push_back(m);
  return f;
}

TEST_CASE("the agent's families: the same bytes as prometheus-cpp",
          "[text_format]") {
  FakeClock clock;
  std::vector<std::unique_ptr<ClusterState>> clusters;
  Lsn lsn = 0x3000000;
  for (int i = 0; i < 3; ++i) {
    clusters.push_back(
        std::make_unique<ClusterState>(example::FourServers(i), &clock));
    for (int round = 0; round < 2; ++round) {
      lsn += 8192;
      for (int s = 0; s < 4; ++s)
        clusters.back()->RecordPoll(s, example::Poll(clock, s, lsn));
      clock.Advance(std::chrono::milliseconds(1234));
    }
    clusters.back()->HealthCheck();
  }
  // A server down, and one whose poll carries a fractional lag.
  PollOutcome down;
  down.at = clock.Now();
  down.error = "connection refused";
  clusters[1]->RecordPoll(2, down);
  clusters[1]->HealthCheck();
  for (const auto& c : clusters) {
    const auto families = BuildMetricFamilies(*c->Get());
    REQUIRE(families.size() > 20);
    CHECK(TextFormat(families) == Library(families));
    // The scrape's path: no model built, the same bytes.
    const TextFamilies text = BuildTextFamilies(*c->Get());
    std::string direct;
    for (const TextFamilies::Family& f : text.families) {
      AppendFamilyHeader(f.name, f.help, f.type, &direct);
      direct += text.samples.substr(f.begin, f.size);
    }
    CHECK(direct == Library(families));
  }
}

TEST_CASE("every metric type, labels, escapes and timestamps",
          "[text_format]") {
  std::vector<MetricFamily> families;
  ClientMetric labelled;
  labelled.label = {
      {"cluster", "main"}, {"server", "evil\"\n\\name"}, {"empty", ""}};
  for (MetricType type :
       {MetricType::Counter, MetricType::Gauge, MetricType::Untyped}) {
    MetricFamily f{
        "f" + std::to_string(static_cast<int>(type)), "Help.", type, {}};
    ClientMetric m = labelled;
    m.counter.value = 3;
    m.gauge.value = -2.5;
    m.untyped.value = 1e-7;
    f.metric.push_back(m);
    ClientMetric bare;  // no labels
    bare.timestamp_ms = 1700000000123;
    f.metric.push_back(bare);
    families.push_back(f);
  }
  MetricFamily summary{"s", "", MetricType::Summary, {}};  // no HELP line
  ClientMetric sm = labelled;
  sm.summary.sample_count = 42;
  sm.summary.sample_sum = 12.345;
  sm.summary.quantile = {{0.5, 1.25}, {0.99, std::nan("")}};
  summary.metric.push_back(sm);
  families.push_back(summary);
  MetricFamily histogram{"h", "Histogram.", MetricType::Histogram, {}};
  ClientMetric hm;
  hm.histogram.sample_count = 7;
  hm.histogram.sample_sum = 0.75;
  hm.histogram.bucket = {{1, 0.005}, {4, 0.1}, {6, 1}};  // +Inf added
  histogram.metric.push_back(hm);
  ClientMetric hinf = labelled;
  hinf.histogram.sample_count = 2;
  hinf.histogram.bucket = {{1, 2.5},
                           {2, std::numeric_limits<double>::infinity()}};
  histogram.metric.push_back(hinf);
  families.push_back(histogram);
  families.push_back(
      MetricFamily{"empty", "No series.", MetricType::Gauge, {}});

  CHECK(TextFormat(families) == Library(families));
  // Spot checks, should both writers drift together.
  const std::string text = TextFormat(families);
  CHECK(text.find("server=\"evil\\\"\\n\\\\name\"") != std::string::npos);
  CHECK(text.find("f1 0 1700000000123\n") != std::string::npos);
  CHECK(text.find("h_bucket{le=\"+Inf\"} 7\n") != std::string::npos);
  CHECK(text.find("s{cluster=\"main\",server=\"evil\\\"\\n\\\\name\","
                  "empty=\"\",quantile=\"0.99\"} Nan\n") != std::string::npos);
}

TEST_CASE(
    "a sample line, its first labels written ahead or not, as "
    "prometheus-cpp writes it",
    "[text_format]") {
  // Label values of every length around the word-at-a-time copy (8 bytes),
  // an escaped byte at every position, and lines past the stack buffer.
  std::mt19937 rng(7);
  const std::string alphabet = "ab\"\n\\z-_.0";
  for (int round = 0; round < 3000; ++round) {
    const std::size_t count = rng() % 4;
    std::vector<std::pair<std::string, std::string>> owned;
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t len = rng() % 20;
      if (round % 500 == 0) len = 700;  // a line over 1 024 bytes
      std::string value;
      for (std::size_t k = 0; k < len; ++k) {
        // Mostly plain bytes, so that whole clean words occur.
        value.push_back(rng() % 4 == 0 ? alphabet[rng() % alphabet.size()]
                                       : static_cast<char>('a' + rng() % 26));
      }
      owned.emplace_back("l" + std::to_string(i), value);
    }
    std::vector<LabelRef> labels(owned.begin(), owned.end());
    MetricFamily f{"g", "", MetricType::Gauge, {}};
    ClientMetric m;
    for (const auto& [name, value] : owned) m.label.push_back({name, value});
    m.gauge.value = round % 7 == 0 ? 0.25 : round;
    f.metric.push_back(m);
    std::string expected = Library({f});
    expected.erase(0, expected.find('\n') + 1);  // the TYPE line
    for (std::size_t ahead = 0; ahead <= count; ++ahead) {
      INFO("round " << round << ", " << ahead << " of " << count
                    << " labels written ahead");
      std::string written;
      AppendLabelText(labels.data(), ahead, &written);
      std::string line;
      AppendSampleLine("g", written, labels.data() + ahead, count - ahead,
                       m.gauge.value, &line);
      CHECK(line == expected);
    }
    std::string line;
    AppendSampleLine("g", labels.data(), count, m.gauge.value, &line);
    CHECK(line == expected);
  }
}

TEST_CASE("numbers: every edge as prometheus-cpp writes it", "[text_format]") {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<double> values = {
      0.0,
      -0.0,
      1,
      -1,
      0.1,
      1.0 / 3,
      2.0 / 3,
      0.5,
      1e15,
      1e16 - 2,
      1e16,
      -1e16,
      1e17,
      9007199254740992.0,  // 2^53
      9007199254740994.0,
      123456789.123456789,
      1733480000.123456,
      1e-4,
      1e-5,
      1.5e-300,
      std::numeric_limits<double>::max(),
      std::numeric_limits<double>::lowest(),
      std::numeric_limits<double>::min(),
      std::numeric_limits<double>::denorm_min(),
      std::numeric_limits<double>::epsilon(),
      inf,
      -inf,
      std::nan(""),
      -std::nan(""),
      4.35,
      0.30000000000000004,
  };
  for (double v : values) {
    INFO("value " << v);
    CHECK(TextFormat({GaugeOf(v)}) == Library({GaugeOf(v)}));
  }
}

TEST_CASE("numbers: random doubles as prometheus-cpp writes them",
          "[text_format]") {
  std::mt19937_64 rng(20261206);
  std::uniform_real_distribution<double> seconds(0, 100000);
  std::uniform_int_distribution<int> digits(0, 6);
  int mismatches = 0;
  for (int i = 0; i < 20000 && mismatches < 5; ++i) {
    double v;
    switch (i % 3) {
      case 0: {  // any bit pattern
        const std::uint64_t bits = rng();
        std::memcpy(&v, &bits, sizeof v);
        break;
      }
      case 1:  // a lag in seconds
        v = seconds(rng);
        break;
      default:  // a decimal with a few places, as a sum of them would be
        v = std::round(seconds(rng) * std::pow(10, digits(rng))) /
            std::pow(10, digits(rng));
    }
    const std::string ours = TextFormat({GaugeOf(v)});
    const std::string theirs = Library({GaugeOf(v)});
    if (ours != theirs) {
      ++mismatches;
      FAIL_CHECK("ours " << ours << " theirs " << theirs);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("HELP text is escaped as the text format requires", "[text_format]") {
  // prometheus-cpp 1.0 writes it raw, which breaks the format.
  MetricFamily f{"x", "a \\ b\nc", MetricType::Gauge, {}};
  std::string out;
  AppendFamilyHeader(f, &out);
  CHECK(out == "# HELP x a \\\\ b\\nc\n# TYPE x gauge\n");
}

}  // namespace
}  // namespace pgre
