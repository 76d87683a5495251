#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

extern char** environ;

namespace pgre::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string MakeTempFile(const char* suffix) {
  std::string templ = std::string("/tmp/pgre-subprocess-XXXXXX") + suffix;
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  int fd = mkstemps(buf.data(), static_cast<int>(std::strlen(suffix)));
  if (fd < 0) {
    throw std::runtime_error(std::string("mkstemps: ") + std::strerror(errno));
  }
  close(fd);
  return std::string(buf.data());
}

// The environment of the child: ours, with `add` added or overridden.
std::vector<std::string> ChildEnv(
    const std::map<std::string, std::string>& add) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    const std::string key = entry.substr(0, entry.find('='));
    if (add.count(key) == 0) env.push_back(std::move(entry));
  }
  for (const auto& [key, value] : add) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts argv. stdout goes to out_path; stderr to err_path, or to stdout
// when err_path is empty. Returns the pid, or -1 with *error set.
pid_t Spawn(std::vector<std::string> argv,
            const std::map<std::string, std::string>& env_add,
            const std::string& cwd, const std::string& out_path,
            const std::string& err_path, std::string* error) {
  if (argv.empty()) {
    *error = "empty argv";
    return -1;
  }
  std::vector<std::string> env = ChildEnv(env_add);
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (err_path.empty()) {
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  sigset_t default_signals;
  sigfillset(&default_signals);
  posix_spawnattr_setsigmask(&attr, &no_signals);
  posix_spawnattr_setsigdefault(&attr, &default_signals);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_argv[0], &actions, &attr, c_argv.data(),
                              c_env.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *error = "cannot start " + argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  return pid;
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits up to `timeout` for `pid` to exit and reaps it. Returns true with
// *status (raw waitpid status) when it did.
bool WaitPid(pid_t pid, milliseconds timeout, int* status) {
  const auto deadline = steady_clock::now() + timeout;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  while (true) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      *status = 0;  // not our child any more (reaped elsewhere)
      break;
    }
    const auto now = steady_clock::now();
    if (now >= deadline) {
      if (pidfd >= 0) close(pidfd);
      return false;
    }
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - now).count() + 1;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    } else {
      std::this_thread::sleep_for(milliseconds(std::min<long long>(left, 5)));
    }
  }
  if (pidfd >= 0) close(pidfd);
  return true;
}

}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Subprocess::Subprocess(std::vector<std::string> argv, SubprocessOptions options)
    : argv_(std::move(argv)), log_path_(std::move(options.log_path)) {
  if (log_path_.empty()) {
    log_path_ = MakeTempFile(".log");
    own_log_ = true;
  }
  std::string error;
  pid_ = Spawn(argv_, options.env, options.cwd, log_path_, "", &error);
  if (pid_ < 0) {
    if (own_log_) unlink(log_path_.c_str());
    throw std::runtime_error("Subprocess: " + error);
  }
}

Subprocess::~Subprocess() {
  Stop();
  if (own_log_) unlink(log_path_.c_str());
}

std::string Subprocess::ReadLog() const { return ReadFileOrEmpty(log_path_); }

bool Subprocess::Reap(bool block) {
  if (exited_) return true;
  int status = 0;
  if (!WaitPid(
          pid_,
          block ? milliseconds(std::chrono::hours(24 * 365)) : milliseconds(0),
          &status)) {
    return false;
  }
  exited_ = true;
  status_ = DecodeStatus(status);
  return true;
}

bool Subprocess::Signal(int sig) {
  if (Reap(false)) return false;
  return kill(pid_, sig) == 0;
}

bool Subprocess::Running() { return !Reap(false); }

int Subprocess::Wait(milliseconds timeout) {
  if (exited_) return status_;
  int status = 0;
  if (!WaitPid(pid_, timeout, &status)) return -1;
  exited_ = true;
  status_ = DecodeStatus(status);
  return status_;
}

int Subprocess::Stop(milliseconds grace) {
  if (pid_ < 0 || Reap(false)) return status_;
  kill(pid_, SIGTERM);
  if (Wait(grace) >= 0) return status_;
  // The leader is alive or a zombie, so its process group id is still ours.
  killpg(pid_, SIGKILL);
  kill(pid_, SIGKILL);
  Reap(true);
  return status_;
}

int RunCommand(const std::vector<std::string>& argv, std::string* output,
               const CommandOptions& options) {
  const std::string out_path = MakeTempFile(".out");
  const std::string err_path =
      options.errors != nullptr ? MakeTempFile(".err") : "";
  std::string error;
  const pid_t pid =
      Spawn(argv, options.env, options.cwd, out_path, err_path, &error);
  int result = -1;
  if (pid < 0) {
    if (output != nullptr) *output = error;
    if (options.errors != nullptr) *options.errors = error;
  } else {
    int status = 0;
    if (WaitPid(pid, options.timeout, &status)) {
      result = DecodeStatus(status);
    } else {
      killpg(pid, SIGKILL);
      kill(pid, SIGKILL);
      WaitPid(pid, milliseconds(10000), &status);
      error = "timed out after " + std::to_string(options.timeout.count()) +
              "ms: " + argv[0];
    }
    if (output != nullptr) *output = ReadFileOrEmpty(out_path);
    if (options.errors != nullptr) {
      *options.errors = ReadFileOrEmpty(err_path);
      if (result < 0) *options.errors += error;
    } else if (output != nullptr && result < 0) {
      *output += error;
    }
  }
  unlink(out_path.c_str());
  if (!err_path.empty()) unlink(err_path.c_str());
  return result;
}

}  // namespace pgre::testing
