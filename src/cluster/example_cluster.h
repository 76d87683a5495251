// A cluster of four servers (a primary with three streaming replicas) as a
// real poll shows it: standbys, slots, WAL receiver, connections. For the
// scrape benchmark (bench/scrape_bench.cc) and the text format's tests.
// Header-only; never linked into the agent.
#ifndef PGRE_CLUSTER_EXAMPLE_CLUSTER_H_
#define PGRE_CLUSTER_EXAMPLE_CLUSTER_H_

#include <string>

#include "cluster/cluster_state.h"
#include "common/clock.h"

namespace pgre::example {

// Cluster "cluster<i>": "primary", "replica1".."replica3".
inline Config FourServers(int i) {
  Config c;
  c.cluster = "cluster" + std::to_string(i);
  c.primary.name = "primary";
  c.primary.role = Role::kPrimary;
  for (int r = 1; r <= 3; ++r) {
    ServerConfig s;
    s.name = "replica" + std::to_string(r);
    s.application_name = s.name;
    s.role = Role::kReplica;
    c.replicas.push_back(s);
  }
  return c;
}

// Server `server` (0: the primary) polled at `clock`'s now, at `lsn`.
inline PollOutcome Poll(const FakeClock& clock, int server, Lsn lsn) {
  PollOutcome o;
  o.ok = true;
  o.at = clock.Now();
  o.wall_at = clock.WallNow();
  o.duration = std::chrono::milliseconds(2);
  ServerSample& s = o.sample;
  for (const char* c : {"server", "stat_replication", "replication_slots",
                        "wal_receiver", "activity", "system_identifier"}) {
    s.collector_success[c] = true;
  }
  s.server_version = 150018;
  s.timeline = 1;
  s.max_connections = 100;
  s.superuser_reserved_connections = 3;
  s.system_identifier = 7300000000000000001ULL;
  for (const char* state : kConnectionStates) s.connections_by_state[state] = 0;
  s.connections_by_state["active"] = 3;
  s.connections_by_state["idle"] = 12;
  if (server == 0) {
    s.current_lsn = lsn;
    for (int r = 1; r <= 3; ++r) {
      StandbyRow row;
      row.application_name = "replica" + std::to_string(r);
      row.client_addr = "10.0.0." + std::to_string(r);
      row.state = "streaming";
      row.sync_state = "async";
      row.sent_lsn = row.write_lsn = row.flush_lsn = row.replay_lsn = lsn;
      row.write_lag = row.flush_lag = row.replay_lag = 0.001;
      s.standbys.push_back(row);
      SlotRow slot;
      slot.slot_name = "slot" + std::to_string(r);
      slot.slot_type = "physical";
      slot.active = true;
      slot.retained_bytes = 4096;
      slot.wal_status = "reserved";
      s.slots.push_back(slot);
    }
  } else {
    s.in_recovery = true;
    s.receive_lsn = s.replay_lsn = lsn;
    s.replay_paused = false;
    s.last_xact_replay_timestamp = ToUnixSeconds(clock.WallNow());
    WalReceiverRow w;
    w.status = "streaming";
    w.written_lsn = w.flushed_lsn = w.latest_end_lsn = lsn;
    w.received_tli = 1;
    w.last_msg_send_time = w.last_msg_receipt_time =
        ToUnixSeconds(clock.WallNow());
    w.sender_host = "10.0.0.100";
    w.sender_port = 5432;
    w.slot_name = "slot" + std::to_string(server);
    s.wal_receiver = w;
  }
  return o;
}

}  // namespace pgre::example

#endif  // PGRE_CLUSTER_EXAMPLE_CLUSTER_H_
