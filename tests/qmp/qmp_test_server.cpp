// qmp_test_server: a QMP server without a machine (block nodes, bitmaps, NBD exports only),
// for the interop test. usage: qmp_test_server unix:PATH,server=on,wait=off
// Runs until "quit" or SIGTERM/SIGINT; closing the nodes stores their persistent bitmaps.
#include "app/qmp/QmpServer.h"
#include "block/bitmap/BitmapCatalog.h"

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <pthread.h>

using namespace e2kvm;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s unix:PATH,server=on,wait=off\n", argv[0]);
        return 2;
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGUSR1); // internal: quit was requested
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    vm::BlockNodeTable nodes;
    int status = 0;
    {
        vm::NbdExportService nbd(nodes);
        qmp::QmpContext ctx(nodes, nbd);
        qmp::QmpServer server(ctx);
        try {
            server.listen(qmp::parseQmpAddress(argv[1]));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "qmp_test_server: %s\n", e.what());
            return 1;
        }
        pthread_t mainThread = pthread_self();
        ctx.setOnQuit([mainThread] { pthread_kill(mainThread, SIGUSR1); });
        server.start();
        int sig = 0;
        while (sigwait(&signals, &sig) != 0) {
        }
        server.stop();
        nbd.stop();
    }
    // Nodes close here (bitmaps saved); report what failed.
    for (const auto& node : nodes.list()) {
        try {
            if (auto* c = node->image->bitmaps())
                c->saveForClose();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "qmp_test_server: %s\n", e.what());
            status = 1;
        }
    }
    return status;
}
