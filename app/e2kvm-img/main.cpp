// e2kvm-img: qemu-img compatible image tool (create, info, map, check, convert, resize,
// compare, rebase) on top of the e2kvm block layer.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "block/BlockError.h"
#include "nbd/NbdImage.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

using namespace e2kvm::img;

namespace {

struct Command {
    const char* name;
    int (*run)(int, char**);
};

const Command kCommands[] = {
    {"bitmap", runBitmap},     {"checkpoint", runCheckpoint},
    {"check", runCheck},       {"compare", runCompare},
    {"convert", runConvert},   {"create", runCreate},
    {"info", runInfo},         {"map", runMap},
    {"rebase", runRebase},     {"resize", runResize},
    {"snapshot", runSnapshot}, {"commit", runCommit},
    {"measure", runMeasure},   {"dd", runDd},
    {"amend", runAmend},       {"bench", runBench},
};

void reportError(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: %s\n", kToolName, message.c_str());
}

void reportUsage(const std::string& message) {
    reportError(message);
    std::fprintf(stderr, "Try '%s --help' for more information\n", kToolName);
}

} // namespace

int main(int argc, char** argv) {
    setToolName(argc > 0 ? argv[0] : nullptr);
    e2kvm::nbd::registerNbdProtocol();
    if (argc < 2) {
        reportUsage("Not enough arguments");
        return 1;
    }
    std::string name = argv[1];
    if (name == "-h" || name == "--help") {
        printHelp("");
        return 0;
    }
    if (name == "-V" || name == "--version") {
        std::printf("%s version 0.1.0 (qemu-img 7.2 compatible)\n", kToolName);
        return 0;
    }
    // Commands report the failures they expect with their own exit codes; any other error
    // exits with the command's "error" code (2 for compare, 1 elsewhere).
    int errorExit = name == "compare" ? 2 : 1;
    try {
        for (const Command& c : kCommands)
            if (name == c.name)
                return c.run(argc - 1, argv + 1);
        reportUsage("Command not found: " + name);
        return 1;
    } catch (const HelpShown&) {
        return 0;
    } catch (const UsageError& e) {
        reportUsage(e.what());
        return 1;
    } catch (const CommandFailure& e) {
        reportError(e.what());
        return e.exitCode();
    } catch (const e2kvm::block::BlockError& e) {
        reportError(e.what());
        return errorExit;
    } catch (const std::bad_alloc&) {
        reportError("out of memory");
        return errorExit;
    } catch (const std::exception& e) {
        reportError(e.what());
        return errorExit;
    }
}
