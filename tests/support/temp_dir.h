// TempDir: a fresh directory under /tmp for a test (a state directory, a
// config), removed with its content when the object goes.
// Thread safety: path() may be called from any thread.
#ifndef PGRE_TESTS_SUPPORT_TEMP_DIR_H_
#define PGRE_TESTS_SUPPORT_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace pgre::testing {

class TempDir {
 public:
  // /tmp/PREFIX-XXXXXX. Throws std::runtime_error when it cannot be made.
  explicit TempDir(const std::string& prefix = "pgre-state") {
    std::string templ = "/tmp/" + prefix + "-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + templ);
    }
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_TEMP_DIR_H_
