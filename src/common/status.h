// Status: success, or an error message fit for logs and HTTP output.
// Error messages must never carry a password (see common/redact.h).
#ifndef PGRE_COMMON_STATUS_H_
#define PGRE_COMMON_STATUS_H_

#include <string>
#include <utility>

namespace pgre {

class Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  // Empty when ok().
  const std::string& message() const { return message_; }

 private:
  bool ok_ = true;
  std::string message_;
};

}  // namespace pgre

#endif  // PGRE_COMMON_STATUS_H_
