// nbd_status_bench: times a whole-export BLOCK_STATUS walk against a running NBD server, the
// way `nbdinfo --map` walks it (4 GiB - 1 requests, each resuming where the last reply ended).
// Usage: nbd_status_bench URI CONTEXT RUNS   -> "walk best X ms median Y ms, N extents"
#include "block/BlockError.h"
#include "nbd/Client.h"
#include "nbd/NbdError.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace {

using e2kvm::nbd::Client;

// One walk over the export; returns the number of extents seen.
uint64_t walk(Client& client, const std::string& context) {
    uint64_t offset = 0;
    uint64_t extents = 0;
    while (offset < client.size()) {
        uint64_t want = std::min<uint64_t>(client.size() - offset, 0xffffffffu);
        auto reply = client.blockStatus(context, offset, uint32_t(want));
        if (reply.empty())
            throw std::runtime_error("server returned no extents at offset " +
                                     std::to_string(offset));
        for (const auto& e : reply)
            offset += e.length;
        extents += reply.size();
    }
    return extents;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s URI CONTEXT RUNS\n", argv[0]);
        return 2;
    }
    try {
        std::string context = argv[2];
        int runs = std::max(1, std::atoi(argv[3]));
        auto client = Client::connect(e2kvm::nbd::parseNbdUri(argv[1]), {context});
        if (!client->contexts().count(context))
            throw std::runtime_error("server did not agree to context " + context);
        std::vector<double> ms;
        uint64_t extents = 0;
        walk(*client, context); // warm-up: page cache, server caches
        for (int i = 0; i < runs; ++i) {
            auto t0 = std::chrono::steady_clock::now();
            extents = walk(*client, context);
            auto t1 = std::chrono::steady_clock::now();
            ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        }
        client->disconnect();
        std::sort(ms.begin(), ms.end());
        std::printf("walk best %.2f ms median %.2f ms, %llu extents\n", ms.front(),
                    ms[ms.size() / 2], (unsigned long long)extents);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nbd_status_bench: %s\n", e.what());
        return 1;
    }
}
