// The program: command line, configuration, and the agent's lifetime.
// main.cc only calls RunApp.
#ifndef PGRE_APP_APP_H_
#define PGRE_APP_APP_H_

namespace pgre {

// Exit codes: 0 success, 1 runtime failure (e.g. cannot listen), 2 bad
// input (flags, configuration).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Runs pg_replica_exporter with the given command line until SIGINT or
// SIGTERM (or, for --config.check and subcommands, until done).
int RunApp(int argc, char** argv);

}  // namespace pgre

#endif  // PGRE_APP_APP_H_
