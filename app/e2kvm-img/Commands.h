#pragma once
// The e2kvm-img subcommands. Each takes the arguments after the command name (argv[0] is the
// command name) and returns the process exit code; errors are thrown as UsageError,
// CommandFailure or block::BlockError.
namespace e2kvm::img {

int runCreate(int argc, char** argv);
int runInfo(int argc, char** argv);
int runMap(int argc, char** argv);
int runCheck(int argc, char** argv);
int runConvert(int argc, char** argv);
int runResize(int argc, char** argv);
int runCompare(int argc, char** argv);
int runRebase(int argc, char** argv);
int runBitmap(int argc, char** argv);
int runCheckpoint(int argc, char** argv);
int runSnapshot(int argc, char** argv);
int runCommit(int argc, char** argv);
int runMeasure(int argc, char** argv);
int runDd(int argc, char** argv);
int runAmend(int argc, char** argv);
int runBench(int argc, char** argv);

} // namespace e2kvm::img
