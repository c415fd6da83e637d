// e2kvm-img snapshot: lists, creates, applies or deletes the internal snapshots of an image
// (qcow2), as `qemu-img snapshot -l | -c | -a | -d`.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "SnapshotListing.h"
#include "block/BlockError.h"
#include "block/InternalSnapshots.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace e2kvm::img {

int runSnapshot(int argc, char** argv) {
    enum { OptObject = 256, OptImageOpts };
    enum class Action { None, List, Apply, Create, Delete };
    CommandOptions opts(argc, argv, "la:c:d:f:qU",
                        {{"object", required_argument, nullptr, OptObject},
                         {"image-opts", no_argument, nullptr, OptImageOpts},
                         {"force-share", no_argument, nullptr, 'U'}});
    Action action = Action::None;
    std::string name, format;
    bool forceShare = false, imageOpts = false;
    auto choose = [&](Action a) {
        if (action != Action::None)
            throw UsageError("Cannot mix '-l', '-a', '-c', '-d'");
        action = a;
    };
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'l':
            choose(Action::List);
            break;
        case 'a':
            choose(Action::Apply);
            name = opts.arg();
            break;
        case 'c':
            choose(Action::Create);
            name = opts.arg();
            break;
        case 'd':
            choose(Action::Delete);
            name = opts.arg();
            break;
        case 'f':
            format = opts.arg();
            break;
        case 'U':
            forceShare = true;
            break;
        case OptImageOpts:
            imageOpts = true;
            break;
        case OptObject:
            throw UsageError("--object is not supported");
        default:
            break;
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");

    OpenRequest req;
    req.format = format;
    req.imageOpts = imageOpts;
    req.forceShare = forceShare;
    req.writable = action != Action::List;
    req.openBacking = false;
    auto image = openForCommand(args[0], req);
    block::InternalSnapshots* snapshots = image->snapshots();

    switch (action) {
    case Action::None: // qemu-img opens the image and does nothing
        return 0;
    case Action::List:
        if (snapshots)
            std::printf("%s", snapshotTable(snapshots->listSnapshots()).c_str());
        return 0;
    case Action::Create: {
        auto now = std::chrono::system_clock::now().time_since_epoch();
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
        block::InternalSnapshot want;
        want.name = name;
        want.dateSec = uint32_t(us / 1000000);
        want.dateNsec = uint32_t((us % 1000000) * 1000);
        want.icount = 0; // as qemu-img records it
        int err = ENOTSUP;
        try {
            if (snapshots) {
                snapshots->createSnapshot(want);
                image->flush();
                return 0;
            }
        } catch (const block::BlockError& e) {
            err = e.errnoValue();
        }
        throw CommandFailure("Could not create snapshot '" + name + "': " + std::to_string(-err) +
                             " (" + std::strerror(err) + ")");
    }
    case Action::Apply:
        try {
            if (!snapshots)
                throw block::BlockError(ENOTSUP, "Block driver does not support snapshots");
            snapshots->applySnapshot(name);
            image->flush();
        } catch (const block::BlockError& e) {
            throw failureInContext("Could not apply snapshot '" + name + "': ", e.what(),
                                   kToolName);
        }
        return 0;
    case Action::Delete: {
        std::optional<block::InternalSnapshot> found;
        if (snapshots) {
            // By name only, as qemu-img (-a also takes an ID; -d does not).
            for (const auto& s : snapshots->listSnapshots())
                if (!found && s.name == name)
                    found = s;
        }
        if (!found)
            throw CommandFailure("Could not delete snapshot '" + name + "': snapshot not found");
        try {
            snapshots->deleteSnapshot(found->id, found->name);
            image->flush();
        } catch (const block::BlockError& e) {
            throw CommandFailure("Could not delete snapshot '" + name + "': " + e.what());
        }
        return 0;
    }
    }
    return 0;
}

} // namespace e2kvm::img
