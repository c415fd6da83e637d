#include "ListExports.h"

#include "nbd/Client.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"

#include <cstdio>
#include <cstdlib>

namespace e2kvm::app {

namespace {

std::string flagNames(uint16_t flags) {
    static const struct {
        uint16_t bit;
        const char* name;
    } names[] = {
        {nbd::TfReadOnly, "readonly"},
        {nbd::TfSendFlush, "flush"},
        {nbd::TfSendFua, "fua"},
        {nbd::TfRotational, "rotational"},
        {nbd::TfSendTrim, "trim"},
        {nbd::TfSendWriteZeroes, "zeroes"},
        {nbd::TfSendDf, "df"},
        {nbd::TfCanMultiConn, "multi"},
        {nbd::TfSendResize, "resize"},
        {nbd::TfSendCache, "cache"},
        {nbd::TfSendFastZero, "fast-zero"},
    };
    std::string s = "(";
    for (const auto& n : names)
        if (flags & n.bit)
            s += std::string(" ") + n.name;
    return s + " )";
}

} // namespace

int listExports(const NbdToolOptions& o) {
    nbd::NbdUri uri;
    if (!o.socketPath.empty()) {
        uri.socketPath = o.socketPath;
    } else {
        uri.host = o.bindAddress.empty() ? (o.file.empty() ? "localhost" : o.file) : o.bindAddress;
        uri.port = o.port;
    }
    if (!o.tlsCreds.empty()) {
        uri.tls = true;
        uri.tlsCertificates = o.tlsObjects.credentialsDir(o.tlsCreds).value_or(o.tlsCreds);
    }
    std::vector<nbd::ExportListing> exports;
    try {
        exports = nbd::Client::list(uri);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", nbdToolName(), e.what());
        return EXIT_FAILURE;
    }
    std::printf("exports available: %zu\n", exports.size());
    for (const auto& e : exports) {
        std::printf(" export: '%s'\n", e.name.c_str());
        if (!e.description.empty())
            std::printf("  description: %s\n", e.description.c_str());
        std::printf("  size:  %llu\n", (unsigned long long)e.size);
        std::printf("  flags: 0x%x %s\n", unsigned(e.flags), flagNames(e.flags).c_str());
        std::printf("  min block: %u\n", e.sizes.minimum);
        std::printf("  opt block: %u\n", e.sizes.preferred);
        std::printf("  max block: %u\n", e.sizes.maximum);
        std::printf("  available meta contexts: %zu\n", e.contexts.size());
        for (const auto& c : e.contexts)
            std::printf("   %s\n", c.c_str());
    }
    return EXIT_SUCCESS;
}

} // namespace e2kvm::app
