// ocirelayctl: works on a running ocirelayd through its admin socket (queue
// stats, dead letters: list, show, replay, purge). Everything but main()
// lives in the library; see ctl_usage() in lib/src/admin for the commands.
#pragma once

namespace ocirelay::admin {

// Runs the command line; returns the exit code: 0 success, 1 the daemon
// answered with an error or could not be reached, 2 usage or configuration
// error. Output goes to stdout, messages to stderr.
int ctl_main(int argc, char** argv);

}  // namespace ocirelay::admin
