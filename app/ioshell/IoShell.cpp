#include "app/ioshell/IoShell.h"

#include "app/ioshell/IoCommandOptions.h"
#include "app/ioshell/IoNumbers.h"
#include "app/ioshell/IoReport.h"
#include "block/ImageCopy.h"
#include "block/blkdebug/Blkdebug.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <getopt.h>
#include <mutex>
#include <new>
#include <thread>
#include <unistd.h>

namespace e2kvm::io {

using block::BlockDriver;
using block::BlockError;

namespace {
// QEMU's largest single request: INT_MAX rounded down to 512 bytes.
constexpr uint64_t kMaxRequestBytes = 2147483136;
constexpr uint64_t kSectorSize = 512;

enum CommandFlags : unsigned {
    kWrites = 1,      // needs a writable image, checked before the arguments are parsed
    kNoFile = 2,      // runs without an open image
    kFileCommand = 4, // exists only where the shell opens its own images (open, close)
};
} // namespace

struct IoShell::Command {
    const char* name;
    const char* alias; // nullptr if none
    int argMin;
    int argMax;             // -1: no upper bound
    const char* argsSyntax; // nullptr: the usage line has no argument part
    const char* oneLine;
    const char* longHelp; // nullptr: `help NAME` prints the usage line only
    bool (IoShell::*run)(const Command&, Args&);
    unsigned flags = 0; // CommandFlags
};

const std::vector<IoShell::Command>& IoShell::commands() {
    static const std::vector<Command> table = {
        {"abort", nullptr, 0, 0, nullptr, "simulate a program crash using abort(3)", nullptr,
         &IoShell::cmdAbort, kNoFile},
        {"aio_flush", nullptr, 0, 0, nullptr, "completes all outstanding aio requests", nullptr,
         &IoShell::cmdAioFlush},
        {"aio_read", nullptr, 2, -1, "[-Ciqv] [-P pattern] off len [len..]",
         "asynchronously reads a number of bytes",
         "\n Reads the lengths given, one after the other, starting at off, as one request.\n"
         " What the request prints (statistics, -v dump, pattern mismatch, failure) appears when\n"
         " it completes, at the latest at aio_flush. The command itself always succeeds.\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -i, -- count an invalid request in the statistics and do nothing else\n"
         " -P, -- check that the data read consists of this byte\n"
         " -q, -- quiet mode, do not print statistics or the dump\n"
         " -v, -- print the data read as a hex dump\n\n",
         &IoShell::cmdAioRead},
        {"aio_write", nullptr, 2, -1, "[-Cfiquz] [-P pattern] off len [len..]",
         "asynchronously writes a number of bytes",
         "\n Writes the lengths given, one after the other, starting at off, as one request\n"
         " (bytes 0xcd unless -P says otherwise). What the request prints appears when it\n"
         " completes, at the latest at aio_flush. The command itself always succeeds.\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -f, -- force unit access\n"
         " -i, -- count an invalid request in the statistics and do nothing else\n"
         " -P, -- fill the data with this byte\n"
         " -q, -- quiet mode, do not print statistics\n"
         " -u, -- with -z, the range may be deallocated\n"
         " -z, -- write zeroes (one length only)\n\n",
         &IoShell::cmdAioWrite, kWrites},
        {"alloc", "a", 1, 2, "offset [count]", "checks if offset is allocated in the file", nullptr,
         &IoShell::cmdAlloc},
        {"break", nullptr, 2, 2, "event tag",
         "sets a breakpoint on event and tags the stopped request as tag", nullptr,
         &IoShell::cmdBreak},
        {"close", "c", 0, 0, nullptr, "close the current open file", nullptr, &IoShell::cmdClose,
         kFileCommand},
        {"discard", "d", 2, -1, "[-Cq] off len", "discards a number of bytes at a specified offset",
         "\n Tells the image that a byte range is no longer needed, so that it may be\n"
         " deallocated (unless the image was opened with -d ignore, which accepts and ignores\n"
         " the request, as qemu-io does).\n"
         " Example: 'discard 1M 64k'\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -q, -- quiet mode, do not print statistics\n\n",
         &IoShell::cmdDiscard, kWrites},
        {"dump", nullptr, 1, 1, "file",
         "writes the whole virtual disk as a raw image to file (e2kvm extension)", nullptr,
         &IoShell::cmdDump},
        {"flush", "f", 0, 0, nullptr, "flush all in-core file state to disk", nullptr,
         &IoShell::cmdFlush},
        {"help", "?", 0, 1, "[command]", "help for one or all commands", nullptr, &IoShell::cmdHelp,
         kNoFile},
        {"info", "i", 0, 0, nullptr, "prints information about the current file", nullptr,
         &IoShell::cmdInfo},
        {"length", "l", 0, 0, nullptr, "gets the length of the current file", nullptr,
         &IoShell::cmdLength},
        {"map", nullptr, 0, 0, "", "prints the allocated areas of a file", nullptr,
         &IoShell::cmdMap},
        {"open", "o", 1, -1, "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]",
         "open the file specified by path",
         "\n Opens an image for the other commands (none may be open).\n"
         " Example: 'open -o driver=qcow2 disk.qcow2'\n"
         " -r, -- open the image read-only\n"
         " -s, -- writes go to a temporary overlay, the image is left as it is\n"
         " -C, -k, -- accepted and ignored\n"
         " -n, -- same as -t none\n"
         " -U, -- do not refuse other processes' writes (read-only images)\n"
         " -t, -- cache mode (writethrough, writeback, none, directsync, unsafe)\n"
         " -d, -- discard mode (unmap or ignore)\n"
         " -o, -- driver options (driver=qcow2,file.locking=off,...)\n\n",
         &IoShell::cmdOpen, kNoFile | kFileCommand},
        {"quit", "q", 0, -1, nullptr, "exit the program", nullptr, nullptr, kNoFile},
        {"read", "r", 2, -1, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
         "reads a number of bytes at a specified offset",
         "\n Reads len bytes starting at off from the virtual disk.\n"
         " Example: 'read -P 0xab -v 512 1k' checks that 1 KiB at offset 512 holds 0xab\n"
         " bytes and prints it as hex.\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -l, -- number of bytes to check against the pattern (needs -P)\n"
         " -p, -- accepted and ignored\n"
         " -P, -- check that the data read consists of this byte\n"
         " -q, -- quiet mode, do not print statistics or the dump\n"
         " -s, -- offset in the read data where the pattern check starts (needs -P)\n"
         " -v, -- print the data read as a hex dump\n\n",
         &IoShell::cmdRead},
        {"readv", nullptr, 2, -1, "[-Cqv] [-P pattern] off len [len..]",
         "reads a number of bytes at a specified offset",
         "\n Reads the lengths given, one after the other, starting at off, as one request.\n"
         " Example: 'readv -P 0xab 512 1k 1k' checks 2 KiB at offset 512.\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -P, -- check that the data read consists of this byte\n"
         " -q, -- quiet mode, do not print statistics or the dump\n"
         " -v, -- print the data read as a hex dump\n\n",
         &IoShell::cmdReadv},
        {"remove_break", nullptr, 1, 1, "tag", "remove a breakpoint by tag", nullptr,
         &IoShell::cmdRemoveBreak},
        {"reopen", nullptr, 0, -1, "[(-r|-w)] [-c cache] [-o options]",
         "reopens an image with new options",
         "\n Opens the current image again, read-only (-r) or writable (-w), with another cache\n"
         " mode (-c) or options (-o read-only=on|off).\n\n",
         &IoShell::cmdReopen},
        {"resume", nullptr, 1, 1, "tag", "resumes the request tagged as tag", nullptr,
         &IoShell::cmdResume},
        {"sigraise", nullptr, 1, 1, "signal", "raises a signal",
         "\n Sends the signal with this number to the program itself (raise(3)).\n"
         " Example: 'sigraise 9' kills it.\n\n",
         &IoShell::cmdSigraise, kNoFile},
        {"sleep", nullptr, 1, 1, nullptr, "waits for the given value in milliseconds", nullptr,
         &IoShell::cmdSleep, kNoFile},
        {"truncate", "t", 1, 3, "[-m prealloc_mode] off",
         "truncates the current file at the given offset", nullptr, &IoShell::cmdTruncate, kWrites},
        {"wait_break", nullptr, 1, 1, "tag", "waits for the suspension of a request", nullptr,
         &IoShell::cmdWaitBreak},
        {"write", "w", 2, -1, "[-bcCfnquz] [-P pattern | -s source_file] off len",
         "writes a number of bytes at a specified offset",
         "\n Writes len bytes at offset off, by default filled with the byte 0xcd.\n"
         " Example: 'write -P 0x5a 1M 4k'\n"
         " -c, -- write whole clusters compressed (qcow2)\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -f, -- force unit access: the data is durable when the command completes\n"
         " -n, -- with -z, fail instead of writing zero bytes the slow way\n"
         " -p, -- accepted and ignored\n"
         " -P, -- fill the data with this byte\n"
         " -q, -- quiet mode, do not print statistics\n"
         " -s, -- take the data from this file\n"
         " -u, -- with -z, the range may be deallocated\n"
         " -z, -- write zeroes without transferring data\n\n",
         &IoShell::cmdWrite, kWrites},
        {"writev", nullptr, 2, -1, "[-Cfq] [-P pattern] off len [len..]",
         "writes a number of bytes at a specified offset",
         "\n Writes the lengths given, one after the other, starting at off, as one request\n"
         " (bytes 0xcd unless -P says otherwise).\n"
         " Example: 'writev -P 0x5a 512 1k 1k'\n"
         " -C, -- print the statistics as one comma-separated line\n"
         " -f, -- force unit access\n"
         " -P, -- fill the data with this byte\n"
         " -q, -- quiet mode, do not print statistics\n\n",
         &IoShell::cmdWritev, kWrites},
    };
    return table;
}

IoShell::IoShell(std::shared_ptr<BlockDriver> image, Options options, IoOutput& output)
    : image_(std::move(image)), options_(options), out_(&output) {
    // Alone with the image, a request held at a breakpoint could never be resumed.
    if (options_.soleUser && image_)
        if (block::Blkdebug* injector = image_->blkdebug())
            injector->setHoldingAllowed(false);
}

IoShell::~IoShell() {
    // A request still running on its thread must end before the shell goes.
    for (auto& request : pending_)
        if (request->thread.joinable())
            request->thread.join();
}

void IoShell::completePending() {
    auto requests = std::move(pending_);
    pending_.clear();
    bool started = false;
    // The requests run (or have run) in the order they were submitted; qemu-io runs their
    // completions in the opposite order (its bottom halves are a stack), so that is the order
    // of what they print.
    for (auto& request : requests) {
        if (request->thread.joinable()) {
            request->thread.join();
            started = true;
        } else {
            request->run(request->printed);
        }
    }
    if (started && image_)
        if (block::Blkdebug* injector = image_->blkdebug())
            injector->setHoldingAllowed(false); // back to one request at a time
    // Requests that ran on their own threads print as they completed: one that waited behind
    // another (a cluster it allocates, held at a breakpoint) after it, as qemu-io's coroutine
    // that waited on a dependency. They come before the rest, which print as a stack.
    // A request that waited behind others completes after every request held at a breakpoint
    // before it was submitted, even when its thread got there first: the held one lets its
    // waiters go a moment before its own completion is counted, where qemu-io's coroutines
    // run the held request's completion first.
    std::vector<std::pair<uint64_t, IoPendingRequest*>> threaded;
    uint64_t heldBefore = 0; // latest completion of a held request submitted so far
    for (auto& request : requests) {
        if (!request->completedAs)
            continue;
        uint64_t key = request->completedAs * 2;
        if (request->waitedBehind)
            key = std::max(key, heldBefore * 2 + 1);
        if (request->held)
            heldBefore = std::max<uint64_t>(heldBefore, request->completedAs);
        threaded.emplace_back(key, request.get());
    }
    std::sort(threaded.begin(), threaded.end(), [](const auto& a, const auto& b) {
        return std::pair(a.first, a.second->completedAs.load()) <
               std::pair(b.first, b.second->completedAs.load());
    });
    for (const auto& [key, request] : threaded)
        request->printed.replay(*out_);
    for (size_t i = requests.size(); i-- > 0;)
        if (!requests[i]->completedAs)
            requests[i]->printed.replay(*out_);
}

void IoShell::close() {
    completePending();
    if (!image_)
        return;
    auto image = std::move(image_);
    image->flush();
}

bool IoShell::available(const Command& c) const {
    if (!c.run && !options_.quitCommand)
        return false;
    return !(c.flags & kFileCommand) || options_.fileCommands;
}

const IoShell::Command* IoShell::findCommand(const std::string& name) const {
    for (const auto& c : commands()) {
        if (!available(c))
            continue;
        if (name == c.name || (c.alias && name == c.alias))
            return &c;
    }
    return nullptr;
}

void IoShell::printUsage(const Command& cmd, const std::string& typedName) {
    if (cmd.argsSyntax)
        out_->outf("%s %s -- %s\n", typedName.c_str(), cmd.argsSyntax, cmd.oneLine);
    else
        out_->outf("%s -- %s\n", typedName.c_str(), cmd.oneLine);
}

void IoShell::reportFailure(const char* op, int errnoValue, const std::string& detail) {
    out_->outf("%s failed: %s\n", op, std::strerror(errnoValue));
    if (!detail.empty())
        out_->note(detail);
}

bool IoShell::inRange(uint64_t offset, uint64_t length) const {
    uint64_t size = image_->size();
    return offset <= size && length <= size - offset;
}

bool IoShell::runLine(const std::string& line) {
    Args args;
    size_t pos = 0;
    while (pos < line.size()) {
        // qemu-io splits at spaces only: a tab or newline stays inside a word.
        while (pos < line.size() && line[pos] == ' ')
            ++pos;
        size_t start = pos;
        while (pos < line.size() && line[pos] != ' ')
            ++pos;
        if (pos > start)
            args.push_back(line.substr(start, pos - start));
    }
    if (args.empty())
        return true;
    const Command* cmd = findCommand(args[0]);
    if (!cmd) {
        out_->errf("command \"%s\" not found\n", args[0].c_str());
        anyFailed_ = true;
        return true;
    }
    if (!image_ && !(cmd->flags & kNoFile)) {
        out_->errf("no file open, try 'help open'\n");
        anyFailed_ = true;
        return true;
    }
    int count = int(args.size()) - 1;
    if (count < cmd->argMin || (cmd->argMax >= 0 && count > cmd->argMax)) {
        if (cmd->argMax < 0)
            out_->errf("bad argument count %d to %s, expected at least %d arguments\n", count,
                       args[0].c_str(), cmd->argMin);
        else if (cmd->argMin == cmd->argMax)
            out_->errf("bad argument count %d to %s, expected %d arguments\n", count,
                       args[0].c_str(), cmd->argMin);
        else
            out_->errf("bad argument count %d to %s, expected between %d and %d arguments\n", count,
                       args[0].c_str(), cmd->argMin, cmd->argMax);
        anyFailed_ = true;
        return true;
    }
    if (!cmd->run) { // quit
        completePending();
        return false;
    }
    if ((cmd->flags & kWrites) && readOnly()) {
        // qemu-io asks for the write permission before the command looks at its arguments.
        out_->report("Block node is read-only");
        anyFailed_ = true;
        return true;
    }
    // The commands parse their options with getopt, whose state is global.
    static std::mutex getoptMutex;
    std::lock_guard lock(getoptMutex);
    bool ok = false;
    try {
        ok = (this->*(cmd->run))(*cmd, args);
    } catch (const block::BlkdebugInjectedError& e) {
        reportFailure(cmd->name, e.errnoValue(), {}); // qemu-io says only the errno
    } catch (const BlockError& e) {
        reportFailure(cmd->name, e.errnoValue(), e.what());
    } catch (const std::bad_alloc&) {
        reportFailure(cmd->name, ENOMEM, "out of memory");
    } catch (const std::exception& e) {
        reportFailure(cmd->name, EIO, e.what());
    }
    if (!ok)
        anyFailed_ = true;
    // Under QEMU's monitor the VM's event loop completes aio requests between two commands.
    // As qemu-io, whose stdout is written when its buffer fills, before a prompt and at exit
    // (a message the close writes to stderr comes before the last commands' output); under
    // the monitor each command's output goes out at once.
    if (!options_.fileCommands) {
        completePending();
        out_->flush();
    }
    return !quit_;
}

bool IoShell::cmdRead(const Command& cmd, Args& args) {
    bool machine = false, quiet = false, dump = false, vmState = false;
    bool havePattern = false, haveStart = false, haveLength = false;
    uint8_t pattern = 0;
    uint64_t patternStart = 0, patternLength = 0;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("abCpP:qs:l:v")) != -1) {
        switch (c) {
        case 'a':
        case 'p':
            break;
        case 'b':
            vmState = true;
            break;
        case 'C':
            machine = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'v':
            dump = true;
            break;
        case 'P': {
            auto p = parsePatternByte(optarg, *out_);
            if (!p)
                return false;
            pattern = *p;
            havePattern = true;
            break;
        }
        case 's': {
            auto v = parseByteCount(optarg, *out_);
            if (!v)
                return false;
            patternStart = *v;
            haveStart = true;
            break;
        }
        case 'l': {
            auto v = parseByteCount(optarg, *out_);
            if (!v)
                return false;
            patternLength = *v;
            haveLength = true;
            break;
        }
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (optind != opts.argc() - 2) {
        printUsage(cmd, args[0]);
        return false;
    }
    auto offset = parseByteCount(opts.arg(optind), *out_);
    if (!offset)
        return false;
    auto count = parseByteCount(opts.arg(optind + 1), *out_);
    if (!count)
        return false;
    if (*count > kMaxRequestBytes) {
        out_->outf("length cannot exceed %llu, given %s\n", (unsigned long long)kMaxRequestBytes,
                   opts.arg(optind + 1));
        return false;
    }
    if (!havePattern && (haveStart || haveLength)) {
        printUsage(cmd, args[0]);
        return false;
    }
    if (!haveLength)
        patternLength = *count >= patternStart ? *count - patternStart : UINT64_MAX;
    if (patternStart > *count || patternLength > *count - patternStart) {
        out_->outf("pattern verification range exceeds end of read data\n");
        return false;
    }
    if (vmState) {
        if (*offset % kSectorSize) {
            out_->outf("%llu is not a sector-aligned value for 'offset'\n",
                       (unsigned long long)*offset);
            return false;
        }
        if (*count % kSectorSize) {
            out_->outf("%llu is not a sector-aligned value for 'count'\n",
                       (unsigned long long)*count);
            return false;
        }
    }
    std::vector<uint8_t> buf(*count);
    if (!vmState && !inRange(*offset, *count)) {
        reportFailure("read", EIO, image_->filename() + ": read past end of disk");
        return false;
    }
    double start = nowSeconds();
    if (vmState) {
        try {
            image_->readVmState(*offset, buf);
        } catch (const BlockError& e) {
            if (e.errnoValue() != ENOTSUP)
                throw;
            reportFailure("read", ENOTSUP, {}); // a format without VM state: the errno alone
            return false;
        }
    } else {
        image_->read(*offset, buf);
    }
    double elapsed = nowSeconds() - start;
    bool ok = true;
    if (havePattern) {
        auto first = buf.begin() + std::ptrdiff_t(patternStart);
        if (std::any_of(first, first + std::ptrdiff_t(patternLength),
                        [&](uint8_t b) { return b != pattern; })) {
            out_->outf("Pattern verification failed at offset %llu, %llu bytes\n",
                       (unsigned long long)(*offset + patternStart),
                       (unsigned long long)patternLength);
            ok = false;
        }
    }
    if (quiet)
        return ok;
    if (dump)
        printHexDump(*out_, *offset, buf);
    printTransferReport(*out_, "read", *offset, *count, elapsed, machine);
    return ok;
}

bool IoShell::cmdWrite(const Command& cmd, Args& args) {
    bool vmState = false, compressed = false, machine = false, fua = false, noFallback = false;
    bool quiet = false, unmap = false, zeroes = false, havePattern = false;
    const char* sourceFile = nullptr;
    uint8_t pattern = 0xcd;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            vmState = true;
            break;
        case 'c':
            compressed = true;
            break;
        case 'C':
            machine = true;
            break;
        case 'f':
            fua = true;
            break;
        case 'n':
            noFallback = true;
            break;
        case 'p':
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            sourceFile = optarg;
            break;
        case 'u':
            unmap = true;
            break;
        case 'z':
            zeroes = true;
            break;
        case 'P': {
            auto p = parsePatternByte(optarg, *out_);
            if (!p)
                return false;
            pattern = *p;
            havePattern = true;
            break;
        }
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (optind != opts.argc() - 2) {
        printUsage(cmd, args[0]);
        return false;
    }
    if (vmState && zeroes) {
        out_->outf("-b and -z cannot be specified at the same time\n");
        return false;
    }
    if (fua && (vmState || compressed)) {
        out_->outf("-f and -b or -c cannot be specified at the same time\n");
        return false;
    }
    if (int(zeroes) + int(havePattern) + int(sourceFile != nullptr) > 1) {
        out_->outf("Only one of -z, -P, and -s can be specified at the same time\n");
        return false;
    }
    if (unmap && !zeroes) {
        out_->outf("-u requires -z to be specified\n");
        return false;
    }
    if (noFallback && !zeroes) {
        out_->outf("-n requires -z to be specified\n");
        return false;
    }
    auto offset = parseByteCount(opts.arg(optind), *out_);
    if (!offset)
        return false;
    auto count = parseByteCount(opts.arg(optind + 1), *out_);
    if (!count)
        return false;
    if (*count > kMaxRequestBytes && !noFallback) {
        out_->outf("length cannot exceed %llu without -n, given %s\n",
                   (unsigned long long)kMaxRequestBytes, opts.arg(optind + 1));
        return false;
    }
    if (vmState || compressed) {
        if (*offset % kSectorSize) {
            out_->outf("%llu is not a sector-aligned value for 'offset'\n",
                       (unsigned long long)*offset);
            return false;
        }
        if (*count % kSectorSize) {
            out_->outf("%llu is not a sector-aligned value for 'count'\n",
                       (unsigned long long)*count);
            return false;
        }
    }
    std::vector<uint8_t> buf;
    if (!zeroes) {
        buf.assign(*count, pattern);
        if (sourceFile) {
            int fd = ::open(sourceFile, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                out_->outf("%s: %s\n", sourceFile, std::strerror(errno));
                return false;
            }
            size_t done = 0;
            while (done < buf.size()) {
                ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    int err = n < 0 ? errno : 0;
                    ::close(fd);
                    out_->outf("%s: %s\n", sourceFile,
                               err ? std::strerror(err) : "file is shorter than the write");
                    return false;
                }
                done += size_t(n);
            }
            ::close(fd);
        }
    }
    if (!vmState && !inRange(*offset, *count)) {
        reportFailure("write", EIO, image_->filename() + ": write past end of disk");
        return false;
    }
    double start = nowSeconds();
    if (vmState) {
        try {
            image_->writeVmState(*offset, buf);
        } catch (const BlockError& e) {
            if (e.errnoValue() != ENOTSUP)
                throw;
            reportFailure("write", ENOTSUP, {}); // a format without VM state: the errno alone
            return false;
        }
    } else if (zeroes) {
        unsigned flags = block::ZeroNone;
        if (unmap && options_.discardUnmap)
            flags |= block::ZeroMayUnmap;
        if (fua)
            flags |= block::ZeroFua;
        if (noFallback)
            flags |= block::ZeroNoFallback;
        image_->writeZeroes(*offset, *count, flags);
    } else if (compressed) {
        uint64_t cluster = image_->clusterSize();
        if (cluster == 0 || !image_->supportsCompression())
            throw BlockError(ENOTSUP, image_->filename() + ": format '" + image_->formatName() +
                                          "' does not support compressed writes");
        if (*offset % cluster)
            throw BlockError(EINVAL, image_->filename() +
                                         ": compressed writes must start on a cluster boundary");
        for (uint64_t done = 0; done < *count; done += cluster) {
            uint64_t n = std::min<uint64_t>(cluster, *count - done);
            image_->writeCompressed(*offset + done,
                                    std::span<const uint8_t>(buf).subspan(size_t(done), size_t(n)));
        }
    } else {
        writeData(*offset, buf, fua);
    }
    if (options_.writethrough && !options_.ignoreFlush)
        image_->flush();
    double elapsed = nowSeconds() - start;
    if (!quiet)
        printTransferReport(*out_, "wrote", *offset, *count, elapsed, machine);
    return true;
}

bool IoShell::cmdDiscard(const Command& cmd, Args& args) {
    bool machine = false, quiet = false;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next("Cq")) != -1) {
        switch (c) {
        case 'C':
            machine = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            printUsage(cmd, args[0]);
            return false;
        }
    }
    if (optind != opts.argc() - 2) {
        printUsage(cmd, args[0]);
        return false;
    }
    auto offset = parseByteCount(opts.arg(optind), *out_);
    if (!offset)
        return false;
    auto count = parseByteCount(opts.arg(optind + 1), *out_);
    if (!count)
        return false;
    if (*count > kMaxRequestBytes) {
        out_->outf("length cannot exceed %llu, given %s\n", (unsigned long long)kMaxRequestBytes,
                   opts.arg(optind + 1));
        return false;
    }
    if (!inRange(*offset, *count)) {
        reportFailure("discard", EIO, image_->filename() + ": discard past end of disk");
        return false;
    }
    double start = nowSeconds();
    if (options_.discardUnmap)
        image_->discard(*offset, *count);
    double elapsed = nowSeconds() - start;
    if (!quiet)
        printTransferReport(*out_, "discard", *offset, *count, elapsed, machine);
    return true;
}

bool IoShell::cmdFlush(const Command&, Args&) {
    if (options_.ignoreFlush)
        return true;
    // As qemu-io, a failed flush prints nothing: it only fails the command (and the exit status).
    try {
        image_->flush();
    } catch (const BlockError&) {
        return false;
    }
    return true;
}

bool IoShell::cmdMap(const Command&, Args&) {
    const uint64_t size = image_->size();
    uint64_t offset = 0;
    while (offset < size) {
        bool allocated = false;
        uint64_t runEnd = offset;
        // Merge consecutive extents with the same allocation state into one line.
        while (runEnd < size) {
            auto e = image_->layerStatus(runEnd, size - runEnd);
            bool here = e.kind != block::Allocation::Unallocated;
            if (runEnd == offset)
                allocated = here;
            else if (here != allocated)
                break;
            runEnd += e.length;
        }
        uint64_t length = runEnd - offset;
        out_->outf("%s (0x%llx) bytes %s at offset %s (0x%llx)\n",
                   humanSize(double(length)).c_str(), (unsigned long long)length,
                   allocated ? "    allocated" : "not allocated", humanSize(double(offset)).c_str(),
                   (unsigned long long)offset);
        offset = runEnd;
    }
    return true;
}

bool IoShell::cmdInfo(const Command&, Args&) {
    block::ImageDescription desc;
    image_->describe(desc);
    uint64_t cluster = image_->clusterSize();
    uint64_t vmStateOffset = 0;
    if (desc.qcow2 && cluster >= 512) {
        // qcow2 keeps the VM state after the last L2 table's worth of guest data.
        uint64_t entries = cluster / (desc.qcow2->extendedL2 ? 16 : 8);
        uint64_t perL2 = cluster * entries;
        vmStateOffset = (image_->size() + perL2 - 1) / perL2 * perL2;
    }
    out_->outf("format name: %s\n", image_->formatName().c_str());
    if (!image_->protocolName().empty())
        out_->outf("format name: %s\n", image_->protocolName().c_str());
    if (!image_->hasDriverInfo())
        return false; // qemu-io fails the command without a message (ENOTSUP)
    out_->outf("cluster size: %s\n", humanSize(double(cluster)).c_str());
    out_->outf("vm state offset: %s\n", humanSize(double(vmStateOffset)).c_str());
    if (!desc.qcow2)
        return true;
    const auto& q = *desc.qcow2;
    bool v3 = q.compat != "0.10";
    out_->outf("Format specific information:\n");
    // The format-specific part is qemu_printf() text (the monitor's reply under HMP).
    out_->monitorf("    compat: %s\n", q.compat.c_str());
    out_->monitorf("    compression type: %s\n", q.compressionType.c_str());
    if (v3)
        out_->monitorf("    lazy refcounts: %s\n", q.lazyRefcounts ? "true" : "false");
    if (!q.bitmaps.empty()) {
        out_->monitorf("    bitmaps:\n");
        for (size_t i = 0; i < q.bitmaps.size(); ++i) {
            const auto& b = q.bitmaps[i];
            out_->monitorf("        [%zu]:\n            flags:\n", i);
            for (size_t f = 0; f < b.flags.size(); ++f)
                out_->monitorf("                [%zu]: %s\n", f, b.flags[f].c_str());
            out_->monitorf("            name: %s\n            granularity: %llu\n", b.name.c_str(),
                           (unsigned long long)b.granularity);
        }
    }
    out_->monitorf("    refcount bits: %u\n", q.refcountBits);
    if (q.dataFile) {
        out_->monitorf("    data file: %s\n", q.dataFile->c_str());
        out_->monitorf("    data file raw: %s\n", q.dataFileRaw ? "true" : "false");
    }
    if (v3) {
        out_->monitorf("    corrupt: %s\n", q.corrupt ? "true" : "false");
        out_->monitorf("    extended l2: %s\n", q.extendedL2 ? "true" : "false");
    }
    return true;
}

// break / remove_break / resume / wait_break act on the blkdebug injector under the image's
// format; without one they fail with ENOTSUP, as qemu-io's.
bool IoShell::cmdBreak(const Command&, Args& args) {
    block::Blkdebug* injector = image_->blkdebug();
    int error = !injector ? ENOTSUP : injector->addBreakpoint(args[1], args[2]) ? 0 : ENOENT;
    if (error)
        out_->outf("Could not set breakpoint: %s\n", std::strerror(error));
    return error == 0;
}

bool IoShell::cmdRemoveBreak(const Command&, Args& args) {
    block::Blkdebug* injector = image_->blkdebug();
    int error = !injector ? ENOTSUP : injector->removeBreakpoint(args[1]) ? 0 : ENOENT;
    if (error)
        out_->outf("Could not remove breakpoint %s: %s\n", args[1].c_str(), std::strerror(error));
    return error == 0;
}

bool IoShell::cmdResume(const Command&, Args& args) {
    block::Blkdebug* injector = image_->blkdebug();
    int error = !injector ? ENOTSUP : injector->resume(args[1]) ? 0 : ENOENT;
    if (error)
        out_->outf("Could not resume request: %s\n", std::strerror(error));
    return error == 0;
}

bool IoShell::cmdWaitBreak(const Command&, Args& args) {
    // qemu-io would wait forever without an injector; there is nothing to wait for.
    block::Blkdebug* injector = image_->blkdebug();
    if (injector && !options_.soleUser) {
        injector->waitSuspended(args[1]);
    } else if (injector) {
        // Only an aio request still running can be held; stop waiting when none is.
        while (!injector->isSuspended(args[1]) && requestsRunning())
            std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

bool IoShell::cmdLength(const Command&, Args&) {
    out_->outf("%s\n", humanSize(double(image_->size())).c_str());
    return true;
}

bool IoShell::cmdHelp(const Command&, Args& args) {
    if (args.size() == 2) {
        const Command* c = findCommand(args[1]);
        if (!c) {
            out_->outf("command %s not found\n", args[1].c_str());
            return false;
        }
        printUsage(*c, args[1]);
        if (c->longHelp)
            out_->outf("%s", c->longHelp);
        return true;
    }
    for (const auto& c : commands()) {
        if (available(c))
            printUsage(c, c.name);
    }
    out_->outf("\nUse 'help commandname' for extended help.\n");
    return true;
}

bool IoShell::cmdAbort(const Command&, Args&) {
    out_->flush();
    std::abort(); // leaves the image exactly as a crash would
}

bool IoShell::cmdDump(const Command&, Args& args) {
    const std::string& path = args[1];
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        out_->outf("%s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    const uint64_t size = image_->size();
    const uint64_t chunk = 1 << 20;
    std::vector<uint8_t> buf(chunk);
    double start = nowSeconds();
    auto fail = [&](const char* what) {
        int err = errno;
        ::close(fd);
        out_->outf("%s: %s: %s\n", path.c_str(), what, std::strerror(err));
        return false;
    };
    for (uint64_t off = 0; off < size; off += chunk) {
        size_t n = size_t(std::min(chunk, size - off));
        std::span<uint8_t> part(buf.data(), n);
        image_->read(off, part);
        if (std::all_of(part.begin(), part.end(), [](uint8_t b) { return b == 0; }))
            continue; // leave a hole
        size_t done = 0;
        while (done < n) {
            ssize_t w = ::pwrite(fd, part.data() + done, n - done, off_t(off + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return fail("write error");
            done += size_t(w);
        }
    }
    if (::ftruncate(fd, off_t(size)) != 0)
        return fail("cannot set size");
    if (::close(fd) != 0) {
        out_->outf("%s: %s\n", path.c_str(), std::strerror(errno));
        return false;
    }
    printTransferReport(*out_, "dumped", 0, size, nowSeconds() - start, false);
    return true;
}

} // namespace e2kvm::io

namespace e2kvm::io {

void IoShell::writeData(uint64_t offset, std::span<const uint8_t> buf, bool fua) {
    using ZeroDetection = Options::ZeroDetection;
    if (options_.detectZeroes != ZeroDetection::Off && block::isAllZero(buf.data(), buf.size())) {
        unsigned flags = block::ZeroNone;
        if (options_.detectZeroes == ZeroDetection::Unmap && options_.discardUnmap)
            flags |= block::ZeroMayUnmap;
        if (fua)
            flags |= block::ZeroFua;
        image_->writeZeroes(offset, buf.size(), flags);
        return;
    }
    image_->write(offset, buf, fua ? block::WriteFua : block::WriteNone);
}

} // namespace e2kvm::io
