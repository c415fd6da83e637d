#include "FuzzSession.h"

#include "block/ImageOpen.h"
#include "block/bitmap/DirtyBitmap.h"
#include "nbd/Protocol.h"
#include "nbd/ServerConnection.h"

#include <cstdlib>
#include <fcntl.h>
#include <memory>
#include <span>
#include <string>
#include <unistd.h>

namespace e2kvm::nbd::fuzz {

namespace {

struct Fixture {
    std::string path;
    std::shared_ptr<Export> exp;
    Fixture() {
        char tmpl[] = "/tmp/e2kvm-nbd-fuzz-XXXXXX";
        int fd = mkstemp(tmpl);
        path = tmpl;
        if (fd < 0 || ftruncate(fd, 1 << 20) != 0)
            std::abort();
        close(fd);
        block::OpenOptions o;
        o.format = "raw";
        o.readOnly = false;
        ExportConfig c;
        c.name = "x";
        c.image = block::openImage(path, o);
        c.readOnly = false;
        c.allocationDepth = true;
        auto b = std::make_shared<block::DirtyBitmap>(1 << 20, 512);
        b->set(4096, 100000);
        c.bitmaps = {{"b", b}};
        exp = std::make_shared<Export>(c);
    }
    ~Fixture() { unlink(path.c_str()); }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

} // namespace

void runSession(const uint8_t* data, size_t size) {
    auto exp = fixture().exp;
    ConnectionEnvironment env;
    env.findExport = [exp](const std::string& name) { return name == exp->name() ? exp : nullptr; };
    env.listExports = [exp] { return std::vector<std::shared_ptr<Export>>{exp}; };
    env.workers = 2;
    ServerConnection conn(std::make_unique<MemoryTransport>(std::span<const uint8_t>(data, size)),
                          env);
    conn.run();
}

std::vector<uint8_t> handshakePrefix() {
    WireWriter w;
    w.u32(kClientFixedNewstyle | kClientNoZeroes);
    auto option = [&](uint32_t opt, const std::vector<uint8_t>& payload) {
        w.u64(kOptMagic);
        w.u32(opt);
        w.u32(uint32_t(payload.size()));
        w.raw(payload.data(), payload.size());
    };
    option(OptStructuredReply, {});
    WireWriter meta;
    meta.u32(1);
    meta.str("x");
    std::vector<std::string> queries = {"base:allocation", "qemu:allocation-depth",
                                        "qemu:dirty-bitmap:b"};
    meta.u32(uint32_t(queries.size()));
    for (const auto& q : queries) {
        meta.u32(uint32_t(q.size()));
        meta.str(q);
    }
    option(OptSetMetaContext, meta.bytes);
    WireWriter go;
    go.u32(1);
    go.str("x");
    go.u16(0);
    option(OptGo, go.bytes);
    return w.bytes;
}

} // namespace e2kvm::nbd::fuzz
