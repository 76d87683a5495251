#include "http/metrics.h"

#include <array>
#include <deque>
#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "cluster/manager.h"
#include "http/text_format.h"

namespace pgre {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// A series' labels, beside the cluster's: views into the snapshot (or into
// temporaries that outlive the call they are passed to). Inline: no
// allocation per series.
class Labels {
 public:
  static constexpr std::size_t kMax = 6;
  Labels() = default;
  Labels(std::initializer_list<LabelRef> labels) {
    for (const LabelRef& l : labels) push_back(l);
  }
  // These labels, then `more`.
  Labels With(std::initializer_list<LabelRef> more) const {
    Labels l = *this;
    for (const LabelRef& x : more) l.push_back(x);
    return l;
  }
  void push_back(LabelRef l) {
    if (n_ == kMax) throw std::length_error("too many labels for a series");
    items_[n_++] = l;
  }
  const LabelRef* begin() const { return items_.data(); }
  const LabelRef* end() const { return items_.data() + n_; }
  std::size_t size() const { return n_; }

 private:
  std::array<LabelRef, kMax> items_{};
  std::size_t n_ = 0;
};

// Builds families in the order of their first use, either as prometheus-cpp's
// model (BuildMetricFamilies) or written at once in the text format
// (BuildTextFamilies). A family is found by the address of its name (a
// string literal at each call site) in a table kept per thread across
// renderings, so a series costs no string comparison and, in the text
// format, no allocation once the thread's buffers have grown.
class Families {
 public:
  Families(std::string_view cluster, bool text)
      : cluster_(cluster), text_(text), table_(Table()) {
    ++table_.epoch;
    if (text_ && !cluster_.empty()) {
      const LabelRef label{"cluster", cluster_};
      AppendLabelText(&label, 1, &cluster_text_);
    }
  }

  void Gauge(std::string_view name, std::string_view help, const Labels& labels,
             double value) {
    Add(name, help, MetricType::Gauge, labels, value);
  }
  void Counter(std::string_view name, std::string_view help,
               const Labels& labels, double value) {
    Add(name, help, MetricType::Counter, labels, value);
  }

  std::vector<MetricFamily> TakeFamilies() { return std::move(families_); }

  TextFamilies TakeText() {
    TextFamilies out;
    std::size_t size = 0;
    for (std::size_t slot : order_) size += table_.slots[slot].text.size();
    out.samples.reserve(size);
    out.families.reserve(order_.size());
    for (std::size_t slot : order_) {
      const Slot& s = table_.slots[slot];
      out.families.push_back(TextFamilies::Family{
          s.name, s.help, s.type, out.samples.size(), s.text.size()});
      out.samples += s.text;
    }
    return out;
  }

 private:
  struct Slot {
    std::string_view name, help;  // string literals: static
    MetricType type;
    std::uint64_t used_in = 0;  // the epoch of the rendering that used it
    std::size_t position = 0;   // in families_ (prometheus-cpp's model)
    std::string text;           // the sample lines (text format)
    // The call that came after this slot's last time: the address of its
    // name and its slot. A cluster's series come in the same order every
    // rendering (server after server), so this guess is nearly always
    // right, and costs no hashing (the table's lookup, a division and a
    // cache miss or two, was a third of a rendering in the agent).
    const char* next_address = nullptr;
    std::size_t next_slot = 0;
  };
  struct SlotTable {
    std::uint64_t epoch = 0;
    std::deque<Slot> slots;
    std::unordered_map<const char*, std::size_t> by_address;
  };
  static SlotTable& Table() {
    thread_local SlotTable table;
    return table;
  }

  std::size_t Find(std::string_view name, std::string_view help,
                   MetricType type) {
    // A family's series often come one after another (one per state, per
    // slot, per standby).
    if (name.data() == previous_address_) return previous_;
    if (previous_ != kNone) {
      const Slot& p = table_.slots[previous_];
      if (p.next_address == name.data() &&
          table_.slots[p.next_slot].name.size() == name.size()) {
        previous_address_ = name.data();
        return previous_ = p.next_slot;
      }
    }
    const std::size_t slot = Lookup(name, help, type);
    if (previous_ != kNone) {
      table_.slots[previous_].next_address = name.data();
      table_.slots[previous_].next_slot = slot;
    }
    previous_address_ = name.data();
    return previous_ = slot;
  }

  std::size_t Lookup(std::string_view name, std::string_view help,
                     MetricType type) {
    auto it = table_.by_address.find(name.data());
    if (it != table_.by_address.end() &&
        table_.slots[it->second].name.size() == name.size()) {
      return it->second;
    }
    // First use of this call site on this thread: the same name may have
    // a slot from another call site.
    std::size_t slot = 0;
    while (slot < table_.slots.size() && table_.slots[slot].name != name) {
      ++slot;
    }
    if (slot == table_.slots.size()) {
      table_.slots.push_back(Slot{name, help, type, 0, 0, {}, nullptr, 0});
    }
    table_.by_address[name.data()] = slot;
    return slot;
  }

  void Add(std::string_view name, std::string_view help, MetricType type,
           const Labels& labels, double value) {
    const std::size_t slot = Find(name, help, type);
    Slot& s = table_.slots[slot];
    if (s.used_in != table_.epoch) {
      s.used_in = table_.epoch;
      order_.push_back(slot);
      if (text_) {
        s.text.clear();
      } else {
        s.position = families_.size();
        families_.push_back(
            MetricFamily{std::string(s.name), std::string(s.help), type, {}});
      }
    }
    if (text_) {
      AppendText(s, labels, value);
      return;
    }
    std::array<LabelRef, Labels::kMax + 1> all;
    std::size_t n = 0;
    if (!cluster_.empty()) all[n++] = {"cluster", cluster_};
    for (const LabelRef& l : labels) all[n++] = l;
    ClientMetric& m = families_[s.position].metric.emplace_back();
    m.label.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      m.label.push_back(
          {std::string(all[i].first), std::string(all[i].second)});
    }
    (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
  }

  // A series' line, its cluster label and its first label written once
  // for the series that share them (a server's forty: the escaping of the
  // two was a third of a line).
  void AppendText(Slot& s, const Labels& labels, double value) {
    if (labels.size() == 0) {
      AppendSampleLine(s.name, cluster_text_, nullptr, 0, value, &s.text);
      return;
    }
    const LabelRef& first = *labels.begin();
    // head_text_ is empty only before the first series with a label.
    if (head_text_.empty() || first.first != head_name_ ||
        first.second != head_value_) {
      head_name_.assign(first.first);
      head_value_.assign(first.second);
      head_text_ = cluster_text_;
      if (!head_text_.empty()) head_text_.push_back(',');
      AppendLabelText(&first, 1, &head_text_);
    }
    AppendSampleLine(s.name, head_text_, labels.begin() + 1, labels.size() - 1,
                     value, &s.text);
  }

  std::string_view cluster_;
  bool text_;
  std::string cluster_text_;  // `cluster="NAME"` (text format; "" without)
  // The first label of the last series (copies) and the text of the
  // cluster's and its label, `cluster="NAME",L="V"`.
  std::string head_name_, head_value_, head_text_;
  SlotTable& table_;
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t previous_ = kNone;            // the slot of the last series
  const char* previous_address_ = nullptr;  // and the address of its name
  std::vector<std::size_t> order_;          // slots, in order of first use
  std::vector<MetricFamily> families_;      // prometheus-cpp's model
};

double B(bool b) { return b ? 1.0 : 0.0; }

void AddServer(Families& f, const ServerView& v) {
  const Labels s = {{"server", v.name}};
  f.Gauge("pg_replica_up",
          "Whether the last poll of the server succeeded (1) or not (0).",
          {{"server", v.name}, {"role", RoleName(v.role)}}, B(v.up));
  f.Gauge("pg_replica_poll_duration_seconds",
          "Duration of the last poll of the server.", s,
          v.poll_duration_seconds);
  f.Counter("pg_replica_polls_total",
            "Polls of the server that finished, failed ones included.", s,
            double(v.polls_total));
  f.Counter("pg_replica_poll_errors_total",
            "Polls of the server that failed (connect, timeout, or query).", s,
            double(v.poll_errors_total));
  if (v.last_success) {
    f.Gauge("pg_replica_last_poll_success_timestamp_seconds",
            "Unix time of the last successful poll of the server.", s,
            ToUnixSeconds(*v.last_success));
  }
  f.Gauge("pg_replica_is_primary",
          "Whether the agent takes the server as the primary (the lag "
          "reference and write target): the one observed out of recovery.",
          s, B(v.is_primary));
  if (!v.sample) return;
  const ServerSample& x = *v.sample;

  for (const auto& [collector, ok] : x.collector_success) {
    f.Gauge("pg_replica_collector_success",
            "Whether the collector succeeded in the last poll.",
            {{"server", v.name}, {"collector", collector}}, B(ok));
  }
  f.Gauge("pg_replica_in_recovery",
          "Whether the server is in recovery (a standby), as observed.", s,
          B(x.in_recovery));
  if (x.current_lsn) {
    f.Gauge("pg_replica_wal_lsn_bytes",
            "Current WAL write position of a server out of recovery, in "
            "bytes.",
            s, double(*x.current_lsn));
  }
  if (x.receive_lsn) {
    f.Gauge("pg_replica_wal_receive_lsn_bytes",
            "Last WAL position received and flushed by the standby, in "
            "bytes.",
            s, double(*x.receive_lsn));
  }
  if (x.replay_lsn) {
    f.Gauge("pg_replica_wal_replay_lsn_bytes",
            "Last WAL position replayed by the standby, in bytes.", s,
            double(*x.replay_lsn));
  }
  if (x.replay_paused) {
    f.Gauge("pg_replica_replay_paused",
            "Whether WAL replay is paused on the standby.", s,
            B(*x.replay_paused));
  }
  if (x.last_xact_replay_timestamp) {
    f.Gauge("pg_replica_last_replay_timestamp_seconds",
            "Commit time (server clock) of the last transaction replayed.", s,
            *x.last_xact_replay_timestamp);
  }
  if (x.timeline) {
    f.Gauge("pg_replica_timeline_id", "Timeline the server is on.", s,
            double(*x.timeline));
  }
  if (x.max_connections) {
    f.Gauge("pg_replica_max_connections", "The server's max_connections.", s,
            *x.max_connections);
  }
  if (x.superuser_reserved_connections) {
    f.Gauge("pg_replica_superuser_reserved_connections",
            "The server's superuser_reserved_connections.", s,
            *x.superuser_reserved_connections);
  }
  if (x.CollectorOk("activity")) {
    for (const char* state : kConnectionStates) {
      auto it = x.connections_by_state.find(state);
      f.Gauge("pg_replica_connections",
              "Client connections by state (the agent's own excluded).",
              {{"server", v.name}, {"state", state}},
              it == x.connections_by_state.end() ? 0.0 : double(it->second));
    }
  }
  if (v.streaming) {
    f.Gauge("pg_replica_wal_receiver_streaming",
            "Whether the standby's WAL receiver is streaming.", s,
            B(*v.streaming));
  }
  if (x.CollectorOk("wal_receiver") && x.in_recovery) {
    if (x.wal_receiver && x.wal_receiver->last_msg_receipt_time) {
      f.Gauge("pg_replica_wal_receiver_last_message_receipt_timestamp_seconds",
              "Time (standby clock) the WAL receiver last heard from its "
              "sender.",
              s, *x.wal_receiver->last_msg_receipt_time);
    }
  }
  for (const StandbyRow& row : x.standbys) {
    f.Gauge("pg_replica_stat_replication_info",
            "A standby connected to this server (pg_stat_replication).",
            {{"server", v.name},
             {"standby", row.application_name},
             {"client_addr", row.client_addr},
             {"state", row.state},
             {"sync_state", row.sync_state}},
            1);
    // Server-reported lag: NULL means "nothing in flight" only when the
    // standby has reached the sender's current position; otherwise unknown.
    const std::pair<const char*,
                    std::pair<std::optional<double>, std::optional<Lsn>>>
        kinds[] = {{"write", {row.write_lag, row.write_lsn}},
                   {"flush", {row.flush_lag, row.flush_lsn}},
                   {"replay", {row.replay_lag, row.replay_lsn}}};
    for (const auto& [kind, values] : kinds) {
      const auto& [lag, lsn] = values;
      std::optional<double> value = lag;
      if (!value && lsn && x.current_lsn && *lsn >= *x.current_lsn) {
        value = 0.0;
      }
      if (value) {
        f.Gauge("pg_replica_stat_replication_lag_seconds",
                "Lag the server reports for a standby (pg_stat_replication "
                "write_lag, flush_lag, replay_lag).",
                {{"server", v.name},
                 {"standby", row.application_name},
                 {"kind", kind}},
                *value);
      }
    }
    const std::pair<const char*, std::optional<Lsn>> positions[] = {
        {"sent", row.sent_lsn},
        {"write", row.write_lsn},
        {"flush", row.flush_lsn},
        {"replay", row.replay_lsn}};
    for (const auto& [kind, lsn] : positions) {
      if (!lsn) continue;
      f.Gauge("pg_replica_stat_replication_lsn_bytes",
              "WAL positions the server reports for a standby, in bytes.",
              {{"server", v.name},
               {"standby", row.application_name},
               {"kind", kind}},
              double(*lsn));
    }
  }
  for (const SlotRow& slot : x.slots) {
    f.Gauge("pg_replica_slot_active", "Whether the replication slot is active.",
            {{"server", v.name},
             {"slot", slot.slot_name},
             {"slot_type", slot.slot_type}},
            B(slot.active));
    if (slot.retained_bytes) {
      f.Gauge("pg_replica_slot_retained_wal_bytes",
              "WAL retained by the replication slot, in bytes.",
              {{"server", v.name}, {"slot", slot.slot_name}},
              double(*slot.retained_bytes));
    }
    if (!slot.wal_status.empty()) {
      f.Gauge("pg_replica_slot_wal_status",
              "The slot's wal_status (reserved, extended, unreserved, lost).",
              {{"server", v.name},
               {"slot", slot.slot_name},
               {"wal_status", slot.wal_status}},
              1);
    }
    if (slot.safe_wal_size) {
      f.Gauge("pg_replica_slot_safe_wal_size_bytes",
              "WAL that can still be written before the slot is lost.",
              {{"server", v.name}, {"slot", slot.slot_name}},
              double(*slot.safe_wal_size));
    }
  }
}

void AddSynthetic(Families& f, const ServerView& v) {
  const Labels s = {{"server", v.name}};
  if (v.routing.synthetic_ok) {
    f.Gauge("pg_replica_synthetic_check_success",
            "Whether the last synthetic read routed to the server succeeded.",
            s, B(*v.routing.synthetic_ok));
  }
  if (v.routing.synthetic_duration_seconds) {
    f.Gauge("pg_replica_synthetic_check_duration_seconds",
            "Duration of the last synthetic read routed to the server.", s,
            *v.routing.synthetic_duration_seconds);
  }
}

void AddLagAndRouting(Families& f, const Snapshot& snap, const ServerView& v) {
  const Labels s = {{"server", v.name}};
  if (v.lag_seconds) {
    f.Gauge("pg_replica_lag_seconds",
            "Replication lag measured on the agent's clock: time since the "
            "primary first passed the server's replay position.",
            s, *v.lag_seconds);
    f.Gauge("pg_replica_lag_lower_bound",
            "Whether pg_replica_lag_seconds is only a lower bound (replay "
            "position older than the agent's history, or no primary "
            "reachable).",
            s, B(v.lag_lower_bound));
  }
  if (v.heartbeat_lag_seconds) {
    f.Gauge("pg_replica_heartbeat_lag_seconds",
            "Write-to-read visibility (heartbeat on): the agent's wall-clock "
            "time minus the newest heartbeat the server shows (resolution "
            "heartbeat.interval).",
            s, *v.heartbeat_lag_seconds);
  }
  if (v.lag_bytes) {
    f.Gauge("pg_replica_lag_bytes",
            "Primary's WAL position minus the server's replay position.", s,
            double(*v.lag_bytes));
  }
  if (v.standby_connected) {
    f.Gauge("pg_replica_standby_connected",
            "Whether the primary's pg_stat_replication has a row with the "
            "server's application_name.",
            s, B(*v.standby_connected));
  }
  if (!snap.routing_active) return;
  const RoutingView& r = v.routing;
  if (!v.is_primary) {
    f.Gauge("pg_replica_healthy",
            "Whether the server is in the read rotation of the routing model "
            "(every server but the primary).",
            s, B(r.in_rotation));
  }
  f.Counter("pg_replica_rotation_changes_total",
            "Times the server entered or left the read rotation.", s,
            double(r.rotation_changes));
}

void AddCluster(Families& f, const Snapshot& snap) {
  const TopologyView& t = snap.topology;
  f.Gauge("pg_replica_primaries",
          "Servers observed out of recovery: 1 normally, 0 when no primary "
          "is reachable, 2 or more in a split brain.",
          {}, double(t.claimants.size()));
  f.Counter("pg_replica_primary_changes_total",
            "Times the agent saw another server become the primary.", {},
            double(t.primary_changes));
  f.Counter("pg_replica_timeline_changes_total",
            "Times the primary's timeline changed (promotions, restores).", {},
            double(t.timeline_changes));
  f.Gauge("pg_replica_stale_reads_active",
          "Whether no primary is reachable and reads go to replicas whose "
          "data stops at the primary's last position.",
          {}, B(t.stale_reads));
  const ManagerView& m = snap.manager;
  if (m.enabled) {
    // What Patroni says, beside what the servers say.
    for (const PatroniMember& member : m.members) {
      f.Gauge("pg_replica_patroni_member_info",
              "Patroni's role and state of each member, from its last "
              "successful answer (discovery.patroni); always 1.",
              {{"server", member.name},
               {"role", member.role},
               {"state", member.state}},
              1);
    }
    f.Gauge("pg_replica_patroni_leader_mismatch",
            "1 while Patroni's leader and the primary the servers show "
            "differ (a manager that lost its store, a paused cluster, a "
            "hand-promoted replica).",
            {}, B(ManagerLeaderMismatch(snap)));
  }
  const HeartbeatView& h = snap.heartbeat;
  if (!h.enabled) return;
  f.Counter("pg_replica_heartbeat_writes_total",
            "Heartbeat writes on the primary that finished, failed ones "
            "included.",
            {}, double(h.writes_total));
  f.Counter("pg_replica_heartbeat_write_errors_total",
            "Heartbeat writes that failed (the table missing and not "
            "creatable, no write permission, the connection lost).",
            {}, double(h.write_errors_total));
  if (h.writes_total > 0) {
    f.Gauge("pg_replica_heartbeat_write_success",
            "Whether the last heartbeat write succeeded (absent before the "
            "first).",
            {}, B(h.last_write_ok));
  }
  if (h.last_written_at) {
    f.Gauge("pg_replica_heartbeat_last_write_timestamp_seconds",
            "Agent's unix time carried by the last successful heartbeat "
            "write.",
            {}, ToUnixSeconds(*h.last_written_at));
  }
}

// The pool size a pool of `database` gets: its SHOW DATABASES row's.
std::optional<std::int64_t> PoolSize(const PgBouncerSample& s,
                                     const std::string& database) {
  for (const PgBouncerDatabase& d : s.databases) {
    if (d.name == database) return d.pool_size;
  }
  return std::nullopt;
}

void AddPgBouncer(Families& f, const PgBouncerView& v) {
  const Labels b = {{"pgbouncer", v.name}, {"server", v.server}};
  auto with = [&](std::initializer_list<LabelRef> more) {
    return b.With(more);
  };
  f.Gauge("pg_replica_pgbouncer_up",
          "Whether the last poll of the pgbouncer's admin console succeeded "
          "(1) or not (0).",
          b, B(v.up));
  f.Gauge("pg_replica_pgbouncer_poll_duration_seconds",
          "Duration of the last poll of the pgbouncer.", b,
          v.poll_duration_seconds);
  f.Counter("pg_replica_pgbouncer_polls_total",
            "Polls of the pgbouncer that finished, failed ones included.", b,
            double(v.polls_total));
  f.Counter("pg_replica_pgbouncer_poll_errors_total",
            "Polls of the pgbouncer that failed (connect, timeout, or lost "
            "connection).",
            b, double(v.poll_errors_total));
  if (!v.sample) return;
  const PgBouncerSample& s = *v.sample;
  for (const auto& [collector, ok] : s.collector_success) {
    f.Gauge("pg_replica_pgbouncer_collector_success",
            "Whether the collector (one SHOW command) succeeded in the last "
            "poll.",
            with({{"collector", collector}}), B(ok));
  }
  if (!s.version.empty()) {
    f.Gauge("pg_replica_pgbouncer_version_info",
            "The pgbouncer's SHOW VERSION, as a label; always 1.",
            with({{"version", s.version}}), 1);
  }
  double clients = 0;
  for (const PgBouncerPool& p : s.pools) {
    const Labels l = with({{"database", p.database}, {"user", p.user}});
    clients += double(p.cl_active + p.cl_waiting);
    f.Gauge("pg_replica_pgbouncer_pool_client_active_connections",
            "Client connections of the pool linked to a server connection "
            "or idle (cl_active).",
            l, double(p.cl_active));
    f.Gauge("pg_replica_pgbouncer_pool_client_waiting_connections",
            "Client connections of the pool waiting for a server connection "
            "(cl_waiting).",
            l, double(p.cl_waiting));
    f.Gauge("pg_replica_pgbouncer_pool_server_active_connections",
            "Server connections of the pool linked to a client (sv_active).", l,
            double(p.sv_active));
    f.Gauge("pg_replica_pgbouncer_pool_server_idle_connections",
            "Server connections of the pool unused and ready (sv_idle).", l,
            double(p.sv_idle));
    f.Gauge("pg_replica_pgbouncer_pool_server_used_connections",
            "Server connections of the pool idle longer than "
            "server_check_delay, to be checked before reuse (sv_used).",
            l, double(p.sv_used));
    f.Gauge("pg_replica_pgbouncer_pool_maxwait_seconds",
            "How long the pool's oldest waiting client has waited "
            "(maxwait + maxwait_us).",
            l, p.maxwait_seconds);
    f.Gauge("pg_replica_pgbouncer_pool_info",
            "The pool's mode as a label; always 1.",
            with({{"database", p.database},
                  {"user", p.user},
                  {"pool_mode", p.pool_mode}}),
            1);
    const auto size = PoolSize(s, p.database);
    if (size && *size > 0) {
      f.Gauge("pg_replica_pgbouncer_pool_utilization_ratio",
              "Server connections of the pool linked to a client "
              "(sv_active) over the database's pool_size (0..1).",
              l, double(p.sv_active) / double(*size));
    }
  }
  for (const PgBouncerDatabase& d : s.databases) {
    const Labels l = with({{"database", d.name}});
    f.Gauge("pg_replica_pgbouncer_database_pool_size",
            "The database's pool_size: most server connections per pool.", l,
            double(d.pool_size));
    f.Gauge("pg_replica_pgbouncer_database_max_connections",
            "The database's max_db_connections (0: unlimited).", l,
            double(d.max_connections));
    f.Gauge("pg_replica_pgbouncer_database_current_connections",
            "Server connections of the database, every pool.", l,
            double(d.current_connections));
  }
  for (const PgBouncerStats& x : s.stats) {
    const Labels l = with({{"database", x.database}});
    f.Counter("pg_replica_pgbouncer_transactions_total",
              "SQL transactions pooled (total_xact_count).", l,
              x.total_xact_count);
    f.Counter("pg_replica_pgbouncer_queries_total",
              "SQL queries pooled (total_query_count).", l,
              x.total_query_count);
    f.Counter("pg_replica_pgbouncer_received_bytes_total",
              "Bytes received from clients (total_received).", l,
              x.total_received);
    f.Counter("pg_replica_pgbouncer_sent_bytes_total",
              "Bytes sent to clients (total_sent).", l, x.total_sent);
    f.Counter("pg_replica_pgbouncer_transaction_time_seconds_total",
              "Time spent in transactions, idle in transaction included "
              "(total_xact_time).",
              l, x.total_xact_time);
    f.Counter("pg_replica_pgbouncer_query_time_seconds_total",
              "Time spent actively running queries (total_query_time).", l,
              x.total_query_time);
    f.Counter("pg_replica_pgbouncer_wait_time_seconds_total",
              "Time clients spent waiting for a server (total_wait_time).", l,
              x.total_wait_time);
    f.Gauge("pg_replica_pgbouncer_transactions_per_second",
            "Average transactions per second in the last stats period "
            "(avg_xact_count).",
            l, x.avg_xact_count);
    f.Gauge("pg_replica_pgbouncer_queries_per_second",
            "Average queries per second in the last stats period "
            "(avg_query_count).",
            l, x.avg_query_count);
    f.Gauge("pg_replica_pgbouncer_received_bytes_per_second",
            "Average bytes received per second (avg_recv).", l, x.avg_recv);
    f.Gauge("pg_replica_pgbouncer_sent_bytes_per_second",
            "Average bytes sent per second (avg_sent).", l, x.avg_sent);
    f.Gauge("pg_replica_pgbouncer_avg_transaction_duration_seconds",
            "Average transaction duration (avg_xact_time).", l,
            x.avg_xact_time);
    f.Gauge("pg_replica_pgbouncer_avg_query_duration_seconds",
            "Average query duration (avg_query_time).", l, x.avg_query_time);
    f.Gauge("pg_replica_pgbouncer_avg_wait_duration_seconds",
            "Average time clients waited for a server (avg_wait_time).", l,
            x.avg_wait_time);
  }
  if (s.max_client_conn) {
    f.Gauge("pg_replica_pgbouncer_max_client_connections",
            "The pgbouncer's max_client_conn.", b, double(*s.max_client_conn));
    if (*s.max_client_conn > 0 && s.collector_success.count("pools") &&
        s.collector_success.at("pools")) {
      f.Gauge("pg_replica_pgbouncer_client_utilization_ratio",
              "Client connections of every pool (cl_active + cl_waiting) "
              "over max_client_conn (0..1).",
              b, clients / double(*s.max_client_conn));
    }
  }
}

}  // namespace

namespace {

void Build(Families& f, const Snapshot& snapshot) {
  for (const ServerView& v : snapshot.servers) AddServer(f, v);
  for (const ServerView& v : snapshot.servers) {
    AddLagAndRouting(f, snapshot, v);
  }
  AddCluster(f, snapshot);
  for (const PgBouncerView& v : snapshot.pgbouncers) AddPgBouncer(f, v);
  if (snapshot.routing_active) {
    for (const ServerView& v : snapshot.servers) AddSynthetic(f, v);
    f.Gauge("pg_replica_read_failover_active",
            "Whether reads go to the primary because no replica is in "
            "rotation.",
            {}, B(snapshot.failover_active));
    for (const ServerView& v : snapshot.servers) {
      f.Counter("pg_replica_routed_reads_total",
                "Synthetic reads the routing model sent to the server.",
                {{"server", v.name}}, double(v.routing.routed_reads));
    }
  }
}

}  // namespace

std::vector<MetricFamily> BuildMetricFamilies(const Snapshot& snapshot) {
  Families f(snapshot.cluster, /*text=*/false);
  Build(f, snapshot);
  return f.TakeFamilies();
}

TextFamilies BuildTextFamilies(const Snapshot& snapshot) {
  Families f(snapshot.cluster, /*text=*/true);
  Build(f, snapshot);
  return f.TakeText();
}

}  // namespace pgre
