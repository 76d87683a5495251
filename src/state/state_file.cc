#include "state/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace pgre {
namespace {

std::string Errno() { return std::strerror(errno); }

bool WriteAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string StateFilePath(const std::string& dir, const std::string& cluster) {
  std::string name;
  for (unsigned char c : cluster) {
    if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
      name += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      name += hex;
    }
  }
  if (name.empty() || name[0] == '.') name = "%" + name;  // no hidden names
  return dir + "/" + name + ".lag-state.json";
}

RestoreInput ReadStateFile(const std::string& dir, const std::string& cluster,
                           const std::string& boot_id) {
  RestoreInput out;
  out.boot_id = boot_id;
  const std::string path = StateFilePath(dir, cluster);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.status = errno == ENOENT ? "missing" : "unreadable: " + Errno();
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    out.status = "unreadable: " + Errno();
    return out;
  }
  std::string error;
  out.state = DecodeLagState(text.str(), &error);
  if (!out.state) out.status = "corrupt: " + path + ": " + error;
  return out;
}

Status WriteStateFile(const std::string& dir, const LagState& state) {
  const std::string path = StateFilePath(dir, state.cluster);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const std::string data = EncodeLagState(state);
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::Error("cannot create " + tmp + ": " + Errno());
  if (!WriteAll(fd, data) || fsync(fd) != 0) {
    const std::string e = Errno();
    close(fd);
    unlink(tmp.c_str());
    return Status::Error("cannot write " + tmp + ": " + e);
  }
  if (close(fd) != 0) {
    const std::string e = Errno();
    unlink(tmp.c_str());
    return Status::Error("cannot write " + tmp + ": " + e);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = Errno();
    unlink(tmp.c_str());
    return Status::Error("cannot rename " + tmp + " to " + path + ": " + e);
  }
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);  // best effort: the rename is durable after this
    close(dfd);
  }
  return Status::Ok();
}

Status CheckStateDirectory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return Status::Error(dir + ": " + Errno());
  }
  if (!S_ISDIR(st.st_mode)) return Status::Error(dir + ": not a directory");
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return Status::Error(dir + ": " + Errno());
  }
  return Status::Ok();
}

std::string BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace pgre
