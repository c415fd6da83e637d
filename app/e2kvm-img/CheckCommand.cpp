// e2kvm-img check: metadata consistency check (and repair) of an image, with qemu-img's
// output and exit codes (0 clean, 1 check failed, 2 corruptions, 3 leaks, 63 no checks).
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "ImageOpening.h"
#include "QemuImgJson.h"
#include "block/ImageCheck.h"
#include "block/ImageOpen.h"
#include "block/OpenFailureText.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace e2kvm::img {

namespace {

void printHuman(const block::CheckResult& r) {
    if (!r.corruptions && !r.leaks && !r.checkErrors) {
        std::printf("No errors were found on the image.\n");
    } else {
        if (r.corruptions)
            std::printf("\n%" PRIu64 " errors were found on the image.\n"
                        "Data may be corrupted, or further writes to the image may corrupt it.\n",
                        r.corruptions);
        if (r.leaks)
            std::printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
                        "This means waste of disk space, but no harm to data.\n",
                        r.leaks);
        if (r.checkErrors)
            std::printf("\n%" PRIu64 " internal errors have occurred during the check.\n",
                        r.checkErrors);
    }
    if (r.totalClusters && r.allocatedClusters) {
        double total = double(r.totalClusters);
        std::printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, "
                    "%0.2f%% compressed clusters\n",
                    r.allocatedClusters, r.totalClusters, r.allocatedClusters * 100.0 / total,
                    r.fragmentedClusters * 100.0 / double(r.allocatedClusters),
                    r.compressedClusters * 100.0 / double(r.allocatedClusters));
    }
    if (r.imageEndOffset)
        std::printf("Image end offset: %" PRIu64 "\n", r.imageEndOffset);
}

// QEMU's ImageCheck: counters that are zero are left out (check-errors always shown).
void printJson(const block::CheckResult& r, const std::string& filename,
               const std::string& format) {
    json::Json j = json::Json::object();
    j.set("filename", filename);
    j.set("format", format);
    j.set("check-errors", r.checkErrors);
    auto optional = [&](const char* key, uint64_t v) {
        if (v)
            j.set(key, v);
    };
    optional("image-end-offset", r.imageEndOffset);
    optional("corruptions", r.corruptions);
    optional("leaks", r.leaks);
    optional("corruptions-fixed", r.corruptionsFixed);
    optional("leaks-fixed", r.leaksFixed);
    optional("total-clusters", r.totalClusters);
    optional("allocated-clusters", r.allocatedClusters);
    optional("fragmented-clusters", r.fragmentedClusters);
    optional("compressed-clusters", r.compressedClusters);
    std::printf("%s\n", prettyJson(j).c_str());
}

} // namespace

int runCheck(int argc, char** argv) {
    enum { OptOutput = 256, OptObject };
    CommandOptions opts(argc, argv, "f:r:T:qU",
                        {{"output", required_argument, nullptr, OptOutput},
                         {"repair", required_argument, nullptr, 'r'},
                         {"force-share", no_argument, nullptr, 'U'}});
    std::string format;
    OutputFormat output = OutputFormat::Human;
    block::RepairMode repair = block::RepairMode::None;
    bool quiet = false, forceShare = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'f':
            format = opts.arg();
            break;
        case 'r':
            if (opts.arg() == "leaks")
                repair = block::RepairMode::Leaks;
            else if (opts.arg() == "all")
                repair = block::RepairMode::All;
            else
                throw UsageError("Unknown option value for -r (expecting 'leaks' or 'all'): " +
                                 opts.arg());
            break;
        case 'q':
            quiet = true;
            break;
        case OptOutput:
            output = parseOutputFormat(opts.arg());
            break;
        case 'U':
            forceShare = true;
            break;
        default:
            break; // -T cache mode: nothing to do
        }
    }
    std::vector<std::string> args = opts.positional();
    if (args.size() != 1)
        throw UsageError("Expecting one image file name");
    const std::string& filename = args[0];
    std::string realFormat = format;
    if (realFormat.empty()) {
        try {
            realFormat = block::probeFormat(filename);
        } catch (const block::BlockError& e) {
            throw CommandFailure("Could not open '" + filename +
                                 "': " + block::openFailureText(filename, e.what()));
        }
    }
    if (realFormat != "qcow2") {
        // Open it anyway so that a missing file or a bad format name is reported as such.
        OpenRequest req;
        req.format = realFormat;
        req.forceShare = forceShare;
        openForCommand(filename, req);
        throw CommandFailure("This image format does not support checks", 63);
    }

    if (forceShare && repair != block::RepairMode::None)
        throw CommandFailure("Could not open '" + filename +
                             "': force-share=on can only be used with read-only images");
    block::CheckResult r;
    try {
        r = block::checkImage(filename, realFormat, repair, forceShare);
    } catch (const block::ImageOpenError& e) {
        throw CommandFailure("Could not open '" + filename + "': " + e.what());
    } catch (const block::BlockError& e) {
        if (block::isImageLockConflict(e))
            throw CommandFailure("Could not open '" + filename + "': " + e.what());
        if (e.errnoValue() == ENOTSUP)
            throw CommandFailure("This image format does not support checks", 63);
        throw CommandFailure(std::string("Check failed: ") + std::strerror(e.errnoValue()) + " (" +
                             e.what() + ")");
    }
    std::fflush(stdout);
    for (const std::string& m : r.messages) {
        if (!m.empty() && m[0] == block::CheckResult::kProgramNamePrefix)
            std::fprintf(stderr, "%s: %s\n", kToolName, m.c_str() + 1);
        else
            std::fprintf(stderr, "%s\n", m.c_str());
    }
    std::fflush(stderr);

    // A check that could not complete (e.g. a leak repair that would need a refcount rebuild)
    // prints no report, as in qemu-img; one that went on despite errors prints it, then fails.
    if (r.abortErrno)
        throw CommandFailure(std::string("Check failed: ") + std::strerror(r.abortErrno));

    if (!quiet) {
        if (output == OutputFormat::Human && (r.corruptionsFixed || r.leaksFixed))
            std::printf("The following inconsistencies were found and repaired:\n\n"
                        "    %" PRIu64 " leaked clusters\n"
                        "    %" PRIu64 " corruptions\n\n"
                        "Double checking the fixed image now...\n",
                        r.leaksFixed, r.corruptionsFixed);
    }
    // The repair detached the image (marked it corrupt): the double check fails, no report.
    if (r.recheckErrno) {
        std::fflush(stdout);
        throw CommandFailure(std::string("Check failed: ") + std::strerror(r.recheckErrno));
    }
    if (!quiet) {
        if (output == OutputFormat::Human)
            printHuman(r);
        else
            printJson(r, filename, realFormat);
    }
    if (r.checkErrors)
        throw CommandFailure("Check failed");
    if (r.corruptions)
        return 2;
    if (r.leaks)
        return 3;
    return 0;
}

} // namespace e2kvm::img
