// Subprocess: a child process owned by a test (the agent under test, a
// server, a tool), with its stdout and stderr captured in a log file.
// RunCommand: runs a short command to completion and returns its output.
//
// Children are started with posix_spawnp (PATH is searched), stdin is
// /dev/null, and each child leads its own process group, so a terminal's
// Ctrl-C reaches only the test and Stop() can clean up grandchildren.
//
// Thread safety: a Subprocess is not thread-safe (use it from one thread);
// distinct objects and RunCommand may be used concurrently.
#ifndef PGRE_TESTS_SUPPORT_SUBPROCESS_H_
#define PGRE_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace pgre::testing {

struct SubprocessOptions {
  // Added to (or overriding) the parent's environment.
  std::map<std::string, std::string> env = {};
  // Where stdout and stderr go (appended). Empty: a fresh file
  // /tmp/pgre-subprocess-XXXXXX.log, removed by the destructor.
  std::string log_path = {};
  // Working directory of the child. Empty: the parent's.
  std::string cwd = {};
};

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with arguments argv[1..].
  // REQUIRES: !argv.empty().
  // Throws std::runtime_error (with the errno text) when the program cannot
  // be started, e.g. it does not exist.
  explicit Subprocess(std::vector<std::string> argv,
                      SubprocessOptions options = {});
  // Stops the child (see Stop) if it still runs; removes an auto-created log.
  ~Subprocess();

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // The log file's content so far ("" if unreadable).
  std::string ReadLog() const;

  // Sends `sig` to the child. Returns false if it has already exited.
  bool Signal(int sig);

  // True while the child has not exited (reaps it when it has).
  bool Running();

  // Waits for the child to exit, at most `timeout`.
  // Returns its exit status (0..255), 128+N if it was killed by signal N,
  // or -1 if it still runs at the deadline. Later calls return the same
  // value once it has exited.
  int Wait(std::chrono::milliseconds timeout);

  // SIGTERM, then SIGKILL to its whole process group if it has not exited
  // within `grace`. Returns what Wait() returns (never -1). No-op returning
  // the saved status when it has already exited.
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  bool Reap(bool block);

  std::vector<std::string> argv_;
  std::string log_path_;
  bool own_log_ = false;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

struct CommandOptions {
  // Added to (or overriding) the parent's environment.
  std::map<std::string, std::string> env = {};
  // Working directory; empty: the parent's.
  std::string cwd = {};
  // When non-null, stderr is stored here and `output` gets stdout only;
  // when null, `output` gets stdout and stderr interleaved.
  std::string* errors = nullptr;
  // The command is killed (SIGKILL to its process group) after this long.
  std::chrono::milliseconds timeout = std::chrono::minutes(2);
};

// Runs argv to completion. Stores its output in *output (if non-null).
// Returns the exit status (0..255), 128+N if killed by signal N, or -1 if it
// could not be started (the reason is then in *output) or timed out.
int RunCommand(const std::vector<std::string>& argv, std::string* output,
               const CommandOptions& options = {});

// Reads a whole file; "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_SUBPROCESS_H_
