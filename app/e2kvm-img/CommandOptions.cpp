#include "CommandOptions.h"

#include "CommandError.h"

#include <cstdio>
#include <cstring>

namespace e2kvm::img {

const char* kToolName = "e2kvm-img";

void setToolName(const char* argv0) {
    if (!argv0 || !*argv0)
        return;
    const char* slash = std::strrchr(argv0, '/');
    kToolName = slash ? slash + 1 : argv0;
}

CommandOptions::CommandOptions(int argc, char** argv, const std::string& shortOpts,
                               std::vector<struct option> longOpts)
    : argc_(argc), argv_(argv), shortOpts_(":" + shortOpts + "h"), longOpts_(std::move(longOpts)) {
    longOpts_.push_back({"help", no_argument, nullptr, 'h'});
    longOpts_.push_back({nullptr, 0, nullptr, 0});
    optind = 0; // full re-initialisation of getopt
    opterr = 0;
}

int CommandOptions::next() {
    int c = getopt_long(argc_, argv_, shortOpts_.c_str(), longOpts_.data(), nullptr);
    switch (c) {
    case 'h':
        printHelp(argv_[0]);
        throw HelpShown{};
    // As qemu-img: the argument getopt stopped at is named as it was given, whether a long
    // option, a short one or a cluster of short ones ("-qU").
    case '?':
        throw UsageError(std::string("unrecognized option '") + argv_[optind - 1] + "'");
    case ':':
        throw UsageError(std::string("missing argument for option '") + argv_[optind - 1] + "'");
    default:
        return c;
    }
}

std::vector<std::string> CommandOptions::positional() const {
    std::vector<std::string> out;
    for (int i = optind; i < argc_; ++i)
        out.emplace_back(argv_[i]);
    return out;
}

namespace {

struct CommandHelp {
    const char* name;
    const char* syntax;
};

const CommandHelp kCommands[] = {
    {"amend", "amend [--object objectdef] [--image-opts] [-p] [-q] [-f fmt] [-t cache] "
              "[--force] -o options filename"},
    {"bench", "bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval] [-i aio] "
              "[-n] [--no-drain] [-o offset] [--pattern=pattern] [-q] [-s buffer_size] "
              "[-S step_size] [-t cache] [-w] [-U] filename"},
    {"bitmap", "bitmap (--merge SOURCE | --add | --remove | --clear | --enable | --disable)... "
               "[-b source_file [-F source_fmt]] [-g granularity] [-f fmt] filename bitmap"},
    {"checkpoint", "checkpoint [-q] [-f fmt] [-g granularity] filename new_bitmap"},
    {"check", "check [-q] [-f fmt] [--output=ofmt] [-r [leaks | all]] [-U] filename"},
    {"commit", "commit [-q] [-f fmt] [-t cache] [-b base] [-d] [-p] [-r rate_limit] filename"},
    {"compare", "compare [-f fmt] [-F fmt] [-p] [-q] [-s] [-U] filename1 filename2"},
    {"convert", "convert [-c] [-p] [-q] [-n] [-f fmt] [-O output_fmt] [-B backing_file [-F "
                "backing_fmt]] [-o options] [-l snapshot_param] [-S sparse_size] [-m "
                "num_coroutines] [-U] filename output_filename"},
    {"create", "create [-q] [-f fmt] [-b backing_file -F backing_fmt] [-u] [-o options] "
               "filename [size]"},
    {"dd", "dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size] [count=blocks] "
           "[skip=blocks] if=input of=output"},
    {"info", "info [-f fmt] [--output=ofmt] [--backing-chain] [-U] filename"},
    {"map", "map [-f fmt] [--output=ofmt] [--start-offset=offset] [--max-length=len] [-U] "
            "filename"},
    {"measure", "measure [--output=ofmt] [-O output_fmt] [-o options] [--size N | "
                "[--image-opts] [-f fmt] [-l snapshot_param] filename]"},
    {"rebase", "rebase [-f fmt] [-p] [-q] [-u] [-U] -b backing_file [-F backing_fmt] "
               "filename"},
    {"resize", "resize [--image-opts] [-f fmt] [--preallocation=prealloc] [-q] [--shrink] "
               "filename [+ | -]size"},
    {"snapshot", "snapshot [-U] [-f fmt] [-q] [-l | -a snapshot | -c snapshot | -d snapshot] "
                 "filename"},
};

} // namespace

void printHelp(const std::string& command) {
    for (const CommandHelp& c : kCommands) {
        if (command == c.name) {
            std::printf("usage: %s %s\n\n"
                        "Run '%s --help' for the meaning of every option.\n",
                        kToolName, c.syntax, kToolName);
            return;
        }
    }
    std::printf("%s: e2kvm disk image utility (qemu-img compatible)\n"
                "\n"
                "usage: %s [standard options] command [command options]\n"
                "\n"
                "    '-h', '--help'       display this help and exit\n"
                "    '-V', '--version'    output version information and exit\n"
                "\n"
                "Command syntax:\n",
                kToolName, kToolName);
    for (const CommandHelp& c : kCommands)
        std::printf("  %s\n", c.syntax);
    std::printf(
        "\n"
        "Command parameters:\n"
        "  'filename' is a disk image filename\n"
        "  'fmt' is the disk image format (raw or qcow2); it is guessed when not given\n"
        "  'size' is the disk image size in bytes; optional suffixes 'k' or 'K' (kilobyte,\n"
        "    1024), 'M' (megabyte), 'G' (gigabyte), 'T' (terabyte), 'P' and 'E' are allowed\n"
        "  'output_filename' is the destination disk image filename\n"
        "  'output_fmt' is the destination format\n"
        "  'options' is a comma separated list of format specific options (cluster_size,\n"
        "    backing_file, backing_fmt, preallocation, lazy_refcounts, refcount_bits,\n"
        "    compat, compression_type, extended_l2)\n"
        "  '-c' writes compressed clusters (qcow2 output only)\n"
        "  '-n' skips the target volume creation (the target must exist)\n"
        "  '-p' shows the progress of the command\n"
        "  '-q' quiet mode: no output except errors\n"
        "  '-S' is the number of consecutive zero bytes (default 4k) that convert skips\n"
        "    to make the output sparse; 0 writes every byte\n"
        "  '-u' unsafe mode: no backing file is opened or checked\n"
        "  '-U' or '--force-share' opens an image read-only even though another process (a VM,\n"
        "    qemu-nbd, qemu-io...) writes it, without keeping it from writing; what is read may\n"
        "    then be inconsistent. Without -U, images are locked as QEMU locks them: a command\n"
        "    is refused an image another process writes, and keeps others from writing the\n"
        "    images it uses (\"Failed to get shared \"write\" lock\")\n"
        "  '--output' takes 'human' or 'json'\n"
        "\n"
        "Parameters to check:\n"
        "  '-r' tries to repair the inconsistencies found: 'leaks' repairs only leaked\n"
        "    clusters, 'all' every kind of error (with the risk of choosing the wrong fix)\n"
        "  exit codes: 0 no errors, 1 the check failed, 2 corruptions, 3 leaked clusters,\n"
        "    63 the format has no metadata checks\n"
        "\n"
        "Parameters to compare:\n"
        "  '-s' strict mode: fails on different allocation as well as different contents\n"
        "  exit codes: 0 identical, 1 different, 2 error\n"
        "\n"
        "Parameters to snapshot:\n"
        "  'snapshot' is the name of a snapshot (or, for -a and -d, its ID)\n"
        "  '-l' lists all snapshots in the given image\n"
        "  '-a' applies a snapshot (reverts the disk to the saved state)\n"
        "  '-c' creates a snapshot\n"
        "  '-d' deletes a snapshot\n"
        "\n"
        "Parameters to resize:\n"
        "  '--shrink' allows making the image smaller (data past the new end is lost)\n");
}

} // namespace e2kvm::img
