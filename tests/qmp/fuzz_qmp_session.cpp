// libFuzzer target: a whole QMP session (negotiation, every command's argument checking, the
// bitmap transaction code) on arbitrary client bytes. A 1 MiB qcow2 node "n" is open; commands
// that would touch other files or bind sockets are replaced by refusals.
#include "app/qmp/QmpError.h"
#include "app/qmp/QmpSession.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <unistd.h>

using namespace e2kvm;

namespace {

struct World {
    World() {
        char tmpl[] = "/tmp/e2kvm-qmp-fuzz-XXXXXX";
        if (!mkdtemp(tmpl))
            std::abort();
        dir = tmpl;
        image = dir + "/n.qcow2";
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = 1 << 20;
        o.sizeGiven = true;
        block::createImage(image, o);
        nbd = std::make_unique<vm::NbdExportService>(nodes);
        ctx = std::make_unique<qmp::QmpContext>(nodes, *nbd);
        // human-monitor-command: qemu-io's "abort" ends the process (as in QEMU) and "dump"
        // writes host files.
        for (const char* name : {"blockdev-add", "nbd-server-start", "screendump", "object-add",
                                 "human-monitor-command"})
            ctx->addCommand({name, [](qmp::QmpContext&, const qmp::Json*) -> qmp::Json {
                                 throw qmp::QmpError("disabled while fuzzing");
                             }});
    }
    ~World() { std::filesystem::remove_all(dir); }

    void reset() {
        std::shared_ptr<vm::BlockNode> n = nodes.find("n");
        if (!n)
            n = nodes.open(image, "qcow2", false, "n");
        // Drop the bitmaps of the previous input so every input starts alike.
        if (auto* c = n->image->bitmaps()) {
            std::vector<block::BitmapAction> removes;
            for (const auto& b : c->list()) {
                block::BitmapAction a;
                a.kind = block::BitmapActionKind::Remove;
                a.name = b.name;
                removes.push_back(a);
            }
            c->apply(removes);
        }
        ctx->takeQuitRequest();
    }

    std::string dir, image;
    vm::BlockNodeTable nodes;
    std::unique_ptr<vm::NbdExportService> nbd;
    std::unique_ptr<qmp::QmpContext> ctx;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World* world = new World; // lives for the process; removed at exit
    static const bool registered = [] {
        std::atexit([] { delete world; });
        return true;
    }();
    (void)registered;
    world->reset();
    qmp::QmpSession session(*world->ctx);
    // Negotiated half the time so that the commands themselves get exercised.
    if (size > 0 && (data[0] & 1))
        session.feed("{\"execute\": \"qmp_capabilities\"}\n");
    std::string out = session.feed(
        std::string_view(reinterpret_cast<const char*>(data), size).substr(size > 0 ? 1 : 0));
    // Every reply is one line of valid JSON.
    size_t start = 0;
    while (start < out.size()) {
        size_t nl = out.find('\n', start);
        if (nl == std::string::npos)
            std::abort();
        qmp::parseJson(std::string_view(out).substr(start, nl - start));
        start = nl + 1;
    }
    return 0;
}
