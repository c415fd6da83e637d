// e2kvm-img create: makes a new raw or qcow2 image, optionally on top of a backing file.
#include "CommandError.h"
#include "CommandOptions.h"
#include "Commands.h"
#include "CreateOptionList.h"
#include "ImageOpening.h"
#include "OptionHelp.h"
#include "QemuDrivers.h"
#include "block/ImageOpen.h"
#include "block/JsonFilename.h"
#include "block/OpenFailureText.h"

#include <cstdio>
#include <vector>

namespace e2kvm::img {

int runCreate(int argc, char** argv) {
    CommandOptions opts(argc, argv, "F:b:f:o:qu", {{"object", required_argument, nullptr, 'O'}});
    std::string format = "raw", backingFile, backingFormat;
    std::vector<std::string> optionTexts;
    bool quiet = false, unsafe = false, backingGiven = false;
    for (int c; (c = opts.next()) != -1;) {
        switch (c) {
        case 'F':
            backingFormat = opts.arg();
            break;
        case 'b':
            backingFile = opts.arg(), backingGiven = true;
            break;
        case 'f':
            format = opts.arg();
            break;
        case 'o':
            if (!isValidOptionList(opts.arg()))
                throw CommandFailure("Invalid option list: " + opts.arg());
            optionTexts.push_back(opts.arg());
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            unsafe = true;
            break;
        default:
            throw UsageError("option not supported: --object");
        }
    }
    std::vector<std::string> args = opts.positional();
    for (const std::string& t : optionTexts)
        if (hasHelpOption(t))
            return printCreateOptionHelp(format, args.empty() ? std::string() : args[0]);
    if (args.empty())
        throw UsageError("Expecting image file name");
    if (args.size() > 2)
        throw UsageError("Unexpected argument: " + args[2]);
    const std::string& filename = args[0];

    if (!isCreatableFormat(format))
        throw CommandFailure(filename + ": " + cannotCreateMessage(format));
    CreateOptionList options(format);
    for (const std::string& t : optionTexts)
        options.parse(t, filename);
    if (backingGiven)
        options.set("backing_file", backingFile);
    if (!backingFormat.empty())
        options.set("backing_fmt", backingFormat);
    if (args.size() == 2) {
        if (options.has("size"))
            throw CommandFailure(filename + ": The image size must be specified only once");
        options.set("size", std::to_string(parseSizeArgument(args[1])));
    }

    if (options.has("backing_file") && options.get("backing_file").empty())
        throw CommandFailure(filename + ": Expected backing file name, got empty string");
    backingFile = options.get("backing_file");
    if (!backingFile.empty() || options.has("backing_fmt")) {
        if (format != "qcow2")
            throw CommandFailure(filename + ": Backing file not supported for file format '" +
                                 format + "'");
    }
    if (!backingFile.empty()) {
        std::string resolved = block::resolveBackingPath(filename, backingFile);
        // As qemu-img: the backing file is opened (its format probed when none is given) even
        // when the size is given; a failure is the open's reason in QEMU's words.
        if (unsafe && !options.has("backing_fmt"))
            throw CommandFailure(filename + ": Backing file specified without backing format");
        if (!unsafe) {
            std::unique_ptr<block::BlockDriver> backing;
            try {
                block::OpenOptions open;
                // As qemu-img: the backing file is only looked at, so a VM writing it does
                // not keep an overlay from being created.
                open.forceShare = true;
                if (options.has("backing_fmt")) {
                    open.format = options.get("backing_fmt");
                } else if (!isProtocolName(resolved) && !block::isJsonFilename(resolved)) {
                    open.format = block::probeFormat(resolved);
                    open.formatProbed = true;
                }
                backing = block::openImage(resolved, std::move(open));
            } catch (const block::BlockError& e) {
                throw CommandFailure(filename + ": " + block::openFailureText(resolved, e.what()) +
                                     "\nCould not open backing image.");
            }
            if (!options.has("backing_fmt"))
                throw CommandFailure(filename +
                                     ": Backing file specified without backing format\n"
                                     "Detected format of " +
                                     backing->formatName() + ".");
            if (!options.has("size"))
                options.set("size", std::to_string(backing->size()));
        }
    }
    if (!options.has("size"))
        throw CommandFailure(filename + ": Image creation needs a size parameter");

    if (!quiet) {
        std::printf("%s\n", options.formattingLine(filename).c_str());
        std::fflush(stdout);
    }
    options.checkValues(filename);
    block::CreateOptions create = options.toCreateOptions();
    // As qemu-img create: the size is rounded up to whole 512-byte sectors (the Formatting
    // line above keeps the size as given).
    create.size = (create.size + 511) & ~uint64_t(511);
    block::createImage(filename, create);
    return 0;
}

} // namespace e2kvm::img
