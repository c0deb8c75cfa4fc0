// Exit codes of ocirelayd (docs/configuration.md, "Exit codes").
#pragma once

namespace ocirelay::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure
inline constexpr int kExitUsage = 2;    // command line or configuration invalid
inline constexpr int kExitStorage = 3;  // storage cannot be opened (or checked)
// SIGTERM or SIGINT: the shutdown could not complete cleanly (a component did
// not stop after being aborted, or the queue state could not be saved). A
// clean shutdown exits kExitOk, even when deliveries were aborted: they stay
// queued.
inline constexpr int kExitShutdownIncomplete = 4;

}  // namespace ocirelay::app
