// IoShell's requests over several buffers (readv, writev) and its asynchronous requests
// (aio_read, aio_write, aio_flush). An aio request runs when qemu-io's would complete: when the
// shell waits for all of them (aio_flush, close, exit).
#include "app/ioshell/IoCommandOptions.h"
#include "app/ioshell/IoNumbers.h"
#include "app/ioshell/IoReport.h"
#include "app/ioshell/IoShell.h"
#include "block/blkdebug/Blkdebug.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

namespace e2kvm::io {

using block::BlockError;

namespace {

// QEMU's largest single request: INT_MAX rounded down to 512 bytes.
constexpr uint64_t kMaxRequestBytes = 2147483136;

// The errno of a failed request, and whether to print the detail line (not for an injected
// error: qemu-io says only the errno).
int failureErrno(const std::exception& e, std::string& detail) {
    if (auto* injected = dynamic_cast<const block::BlkdebugInjectedError*>(&e))
        return injected->errnoValue();
    detail = e.what();
    if (auto* block = dynamic_cast<const BlockError*>(&e))
        return block->errnoValue();
    if (dynamic_cast<const std::bad_alloc*>(&e))
        return ENOMEM;
    return EIO;
}

void printFailure(IoOutput& out, const char* op, int error, const std::string& detail) {
    out.outf("%s failed: %s\n", op, std::strerror(error));
    if (!detail.empty())
        out.note(detail);
}

} // namespace

void IoShell::submit(std::function<void(IoOutput&)> request) {
    auto pending = std::make_unique<IoPendingRequest>();
    pending->run = std::move(request);
    block::Blkdebug* injector = image_->blkdebug();
    if (injector && options_.soleUser) {
        // As qemu-io's coroutine, the request runs now until it completes or waits: held at a
        // breakpoint (for wait_break and resume to act on), or behind another request.
        injector->setHoldingAllowed(true);
        const size_t heldBefore = injector->heldCount();
        IoPendingRequest* p = pending.get();
        p->thread = std::thread([this, p] {
            p->run(p->printed);
            p->completedAs = ++completions_;
            p->done = true;
        });
        const auto giveUp = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (!p->done && injector->heldCount() <= heldBefore &&
               std::chrono::steady_clock::now() < giveUp)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        p->held = !p->done && injector->heldCount() > heldBefore;
        p->waitedBehind = !p->done && !p->held;
    }
    pending_.push_back(std::move(pending));
}

bool IoShell::requestsRunning() const {
    return std::any_of(pending_.begin(), pending_.end(),
                       [](const auto& p) { return p->thread.joinable() && !p->done; });
}

std::optional<uint64_t> IoShell::parseLengths(const Args& args, int first) {
    uint64_t total = 0;
    for (size_t i = size_t(first); i < args.size(); ++i) {
        auto length = parseByteCount(args[i], *out_);
        if (!length)
            return std::nullopt;
        if (*length > kMaxRequestBytes) {
            out_->outf("Argument '%s' exceeds maximum size %llu\n", args[i].c_str(),
                       (unsigned long long)kMaxRequestBytes);
            return std::nullopt;
        }
        if (total > kMaxRequestBytes - *length) {
            out_->outf("The total number of bytes exceed the maximum size %llu\n",
                       (unsigned long long)kMaxRequestBytes);
            return std::nullopt;
        }
        total += *length;
    }
    return total;
}

bool IoShell::vectorRead(IoOutput& out, const char* op, uint64_t offset, uint64_t count,
                         std::optional<uint8_t> pattern, bool quiet, bool dump, bool machine) {
    std::vector<uint8_t> buf(count);
    double start = nowSeconds();
    try {
        if (!inRange(offset, count))
            throw BlockError(EIO, image_->filename() + ": read past end of disk");
        image_->read(offset, buf);
    } catch (const std::exception& e) {
        std::string detail;
        int error = failureErrno(e, detail);
        printFailure(out, op, error, detail);
        return false;
    }
    double elapsed = nowSeconds() - start;
    bool ok = true;
    if (pattern && std::any_of(buf.begin(), buf.end(), [&](uint8_t b) { return b != *pattern; })) {
        out.outf("Pattern verification failed at offset %llu, %llu bytes\n",
                 (unsigned long long)offset, (unsigned long long)count);
        ok = false;
    }
    if (quiet)
        return ok;
    if (dump)
        printHexDump(out, offset, buf);
    printTransferReport(out, "read", offset, count, elapsed, machine);
    return ok;
}

// readv and aio_read take the same arguments: [-Cqv] [-P pattern] off len [len...]; aio_read
// also -i (an invalid request, only announced). Prints the usage or qemu-io's message and
// returns nothing when they are wrong; `invalid` is set for -i.
std::optional<IoShell::VectorRead> IoShell::parseVectorRead(const Command& cmd, Args& args,
                                                            bool aio, bool* invalid) {
    VectorRead r;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next(aio ? "CP:iqv" : "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            r.machine = true;
            break;
        case 'P':
            r.pattern = parsePatternByte(optarg, *out_);
            if (!r.pattern)
                return std::nullopt;
            break;
        case 'i':
            *invalid = true;
            return std::nullopt;
        case 'q':
            r.quiet = true;
            break;
        case 'v':
            r.dump = true;
            break;
        default:
            printUsage(cmd, args[0]);
            return std::nullopt;
        }
    }
    if (optind > opts.argc() - 2) {
        printUsage(cmd, args[0]);
        return std::nullopt;
    }
    auto offset = parseByteCount(opts.arg(optind), *out_);
    if (!offset)
        return std::nullopt;
    auto count = parseLengths(args, optind + 1);
    if (!count)
        return std::nullopt;
    r.offset = *offset;
    r.count = *count;
    return r;
}

bool IoShell::cmdReadv(const Command& cmd, Args& args) {
    bool invalid = false;
    std::optional<VectorRead> r = parseVectorRead(cmd, args, false, &invalid);
    if (!r)
        return false;
    return vectorRead(*out_, "readv", r->offset, r->count, r->pattern, r->quiet, r->dump,
                      r->machine);
}

bool IoShell::cmdAioRead(const Command& cmd, Args& args) {
    bool invalid = false;
    std::optional<VectorRead> r = parseVectorRead(cmd, args, true, &invalid);
    if (invalid) {
        out_->outf("injecting invalid read request\n");
        return true;
    }
    if (!r)
        return false;
    // Submitted is success: a failure or a pattern mismatch is only printed.
    submit([this, r = *r](IoOutput& out) {
        vectorRead(out, "readv", r.offset, r.count, r.pattern, r.quiet, r.dump, r.machine);
    });
    return true;
}

std::optional<IoShell::VectorWrite> IoShell::parseVectorWrite(const Command& cmd, Args& args,
                                                              bool aio, bool* invalid) {
    VectorWrite w;
    CommandOptions opts(args, *out_);
    int c;
    while ((c = opts.next(aio ? "CfiqP:uz" : "CfqP:")) != -1) {
        switch (c) {
        case 'C':
            w.machine = true;
            break;
        case 'f':
            w.fua = true;
            break;
        case 'q':
            w.quiet = true;
            break;
        case 'u':
            w.unmap = true;
            break;
        case 'P': {
            auto p = parsePatternByte(optarg, *out_);
            if (!p)
                return std::nullopt;
            w.pattern = *p;
            break;
        }
        case 'i':
            *invalid = true;
            return std::nullopt;
        case 'z':
            w.zeroes = true;
            break;
        default:
            printUsage(cmd, args[0]);
            return std::nullopt;
        }
    }
    if (optind > opts.argc() - 2) {
        printUsage(cmd, args[0]);
        return std::nullopt;
    }
    if (w.zeroes && optind != opts.argc() - 2) {
        out_->outf("-z supports only a single length parameter\n");
        return std::nullopt;
    }
    if (w.unmap && !w.zeroes) {
        out_->outf("-u requires -z to be specified\n");
        return std::nullopt;
    }
    // qemu-io 7.2 means to refuse -z with -P but never does: -P is ignored then.
    auto offset = parseByteCount(opts.arg(optind), *out_);
    if (!offset)
        return std::nullopt;
    std::optional<uint64_t> count;
    if (w.zeroes)
        count = parseByteCount(opts.arg(optind + 1), *out_);
    else
        count = parseLengths(args, optind + 1);
    if (!count)
        return std::nullopt;
    w.offset = *offset;
    w.count = *count;
    return w;
}

bool IoShell::cmdWritev(const Command& cmd, Args& args) {
    bool invalid = false;
    std::optional<VectorWrite> w = parseVectorWrite(cmd, args, false, &invalid);
    if (!w)
        return false;
    std::vector<uint8_t> buf(w->count, w->pattern);
    if (!inRange(w->offset, w->count)) {
        reportFailure("writev", EIO, image_->filename() + ": write past end of disk");
        return false;
    }
    double start = nowSeconds();
    writeData(w->offset, buf, w->fua);
    if (options_.writethrough && !options_.ignoreFlush)
        image_->flush();
    double elapsed = nowSeconds() - start;
    if (!w->quiet)
        printTransferReport(*out_, "wrote", w->offset, w->count, elapsed, w->machine);
    return true;
}

bool IoShell::cmdAioWrite(const Command& cmd, Args& args) {
    bool invalid = false;
    std::optional<VectorWrite> w = parseVectorWrite(cmd, args, true, &invalid);
    if (invalid) {
        out_->outf("injecting invalid write request\n");
        return true;
    }
    if (!w)
        return false;
    submit([this, w = *w](IoOutput& out) {
        double start = nowSeconds();
        try {
            if (!inRange(w.offset, w.count))
                throw BlockError(EIO, image_->filename() + ": write past end of disk");
            if (w.zeroes) {
                unsigned flags = block::ZeroNone;
                if (w.unmap && options_.discardUnmap)
                    flags |= block::ZeroMayUnmap;
                if (w.fua)
                    flags |= block::ZeroFua;
                image_->writeZeroes(w.offset, w.count, flags);
            } else {
                std::vector<uint8_t> buf(w.count, w.pattern);
                writeData(w.offset, buf, w.fua);
            }
            if (options_.writethrough && !options_.ignoreFlush)
                image_->flush();
            if (!w.quiet)
                printTransferReport(out, "wrote", w.offset, w.count, nowSeconds() - start,
                                    w.machine);
        } catch (const std::exception& e) {
            std::string detail;
            int error = failureErrno(e, detail);
            printFailure(out, "aio_write", error, detail);
        }
    });
    return true;
}

bool IoShell::cmdAioFlush(const Command&, Args&) {
    completePending();
    return true;
}

} // namespace e2kvm::io
