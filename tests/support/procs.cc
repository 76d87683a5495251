#include "support/procs.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "support/subprocess.h"

namespace pgre::testing {
namespace {

// Every pid in /proc.
std::vector<pid_t> AllPids() {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end == '\0' && pid > 0) out.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return out;
}

}  // namespace

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  for (pid_t child : AllPids()) {
    const std::string stat =
        ReadFileOrEmpty("/proc/" + std::to_string(child) + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    std::string state;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == pid) children.push_back(child);
  }
  return children;
}

std::string CommandLine(pid_t pid) {
  std::string raw =
      ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : raw) {
    if (c == '\0') c = ' ';
  }
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  return raw;
}

std::vector<pid_t> ProcessesMatching(const std::string& text) {
  std::vector<pid_t> out;
  const pid_t self = getpid();
  for (pid_t pid : AllPids()) {
    if (pid != self && CommandLine(pid).find(text) != std::string::npos) {
      out.push_back(pid);
    }
  }
  return out;
}

}  // namespace pgre::testing
