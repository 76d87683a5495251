// Processes of the machine, read from /proc: for tests that signal a
// server's processes (a postmaster's children, the processes whose command
// line names a data directory).
// Thread safety: thread-safe (reads /proc only).
#ifndef PGRE_TESTS_SUPPORT_PROCS_H_
#define PGRE_TESTS_SUPPORT_PROCS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace pgre::testing {

// The processes whose parent is `pid`.
std::vector<pid_t> ChildrenOf(pid_t pid);

// The processes whose command line (arguments joined by spaces) contains
// `text`, this process excepted.
std::vector<pid_t> ProcessesMatching(const std::string& text);

// A process's command line, arguments joined by spaces ("" when gone).
std::string CommandLine(pid_t pid);

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PROCS_H_
