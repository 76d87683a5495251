// FreePort: a TCP port on 127.0.0.1 that nothing listens on right now.
#ifndef PGRE_TESTS_SUPPORT_PORTS_H_
#define PGRE_TESTS_SUPPORT_PORTS_H_

namespace pgre::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose, closes the socket and
// returns the port. Never returns the same port twice within one process, so
// several servers of one test do not collide. Another process may still take
// the port before the caller binds it (inherent to the technique; rare).
// Throws std::runtime_error when no socket can be bound.
// Thread safety: thread-safe.
int FreePort();

}  // namespace pgre::testing

#endif  // PGRE_TESTS_SUPPORT_PORTS_H_
