// e2kvm-nbd: serve one disk image over NBD with qemu-nbd's command line, or list the exports
// of a server (-L).
#include "ListExports.h"
#include "NbdToolOptions.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/SnapshotSelector.h"
#include "block/bitmap/BitmapCatalog.h"
#include "block/filter/RawWindow.h"
#include "nbd/NbdError.h"
#include "nbd/Server.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

using namespace e2kvm;

namespace {

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", app::nbdToolName(), message.c_str());
    std::exit(EXIT_FAILURE);
}

// Inherited listening sockets (systemd socket activation), or -1.
int activatedSocket() {
    const char* pid = std::getenv("LISTEN_PID");
    const char* fds = std::getenv("LISTEN_FDS");
    if (!pid || !fds)
        return -1;
    if (std::strtol(pid, nullptr, 10) != getpid())
        return -1;
    long n = std::strtol(fds, nullptr, 10);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (n != 1)
        die("LISTEN_FDS: expected exactly one socket, got " + std::string(fds));
    fcntl(3, F_SETFD, FD_CLOEXEC);
    return 3;
}

// --fork: the parent waits until the child reports it is serving, then exits.
int forkIntoBackground() {
    int p[2];
    if (pipe(p) != 0)
        die(std::string("pipe: ") + std::strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die(std::string("fork: ") + std::strerror(errno));
    if (pid > 0) {
        close(p[1]);
        char c;
        ssize_t n;
        do {
            n = read(p[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        if (n == 1)
            std::exit(EXIT_SUCCESS);
        int status = 0;
        waitpid(pid, &status, 0);
        std::exit(EXIT_FAILURE);
    }
    close(p[0]);
    setsid();
    return p[1];
}

int serve(const app::NbdToolOptions& o) {
    int readyFd = o.fork ? forkIntoBackground() : -1;

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1); // internal: the last client left
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    std::shared_ptr<block::BlockDriver> image;
    std::string format = o.format;
    try {
        block::OpenOptions oo;
        oo.format = o.format;
        oo.readOnly = o.readOnly;
        oo.unshare = block::kPermResize; // as qemu-nbd: the export's size stays what it is
        if (format.empty()) {
            format = block::probeFormat(o.file);
            oo.format = format;
            oo.formatProbed = true; // a probed raw image keeps its first sector raw
            if (format == "raw" && !o.readOnly)
                std::fputs(block::probedRawWarning(o.file).c_str(), stderr);
        }
        image = block::openImage(o.file, oo);
    } catch (const block::BlockError& e) {
        die("Failed to open '" + o.file + "': " + e.what());
    }
    if (o.snapshot) {
        try {
            block::loadSelectedSnapshot(*image, *o.snapshot);
        } catch (const block::BlockError& e) {
            die(std::string("Failed to load snapshot: ") + e.what());
        }
    }

    if (o.offset) {
        // As qemu-nbd: a raw node with that offset over the image is what is exported.
        try {
            image = std::make_shared<block::RawWindow>(image, o.offset, std::nullopt);
        } catch (const block::BlockError& e) {
            die(e.what());
        }
    }

    nbd::ExportConfig exp;
    exp.name = o.exportName;
    exp.description = o.description;
    exp.image = image;
    exp.readOnly = o.readOnly;
    exp.allocationDepth = o.allocationDepth;
    exp.unmap = o.discardUnmap;
    exp.detectZeroes = o.detectZeroes;
    // qemu-nbd: a probed raw image gets a 512-byte minimum block size.
    exp.minBlock = (o.format.empty() && format == "raw") ? 512 : 1;
    // qemu-nbd publishes -B bitmaps in reverse command-line order (the last one gets id 2).
    for (auto it = o.bitmaps.rbegin(); it != o.bitmaps.rend(); ++it) {
        const std::string& name = *it;
        // As qemu-nbd, the bitmap may live in any layer of the backing chain (the first
        // layer from the top that has one by that name).
        block::BitmapCatalog* catalog = nullptr;
        for (block::BlockDriver* layer = image.get(); layer && !catalog; layer = layer->backing()) {
            block::BitmapCatalog* c = layer->bitmaps();
            if (c && c->find(name))
                catalog = c;
        }
        if (!catalog)
            die("Bitmap '" + name + "' is not found");
        try {
            exp.bitmaps.push_back({name, catalog->usable(name)});
        } catch (const block::BlockError& e) {
            die(e.what());
        }
    }

    std::mutex logMutex;
    nbd::ServerOptions so;
    so.tlsMode = o.tlsMode;
    if (o.tlsMode != nbd::TlsMode::Off) {
        try {
            so.tls = tlsServerSettings(o);
        } catch (const std::runtime_error& e) {
            die(e.what());
        }
    }
    so.maxConnections = o.shared;
    if (o.verbose)
        so.log = [&logMutex](const std::string& m) {
            std::lock_guard lock(logMutex);
            std::fprintf(stderr, "%s: %s\n", app::nbdToolName(), m.c_str());
        };
    std::unique_ptr<nbd::Server> server;
    try {
        server = std::make_unique<nbd::Server>(so);
        server->addExport(exp);
        int fd = activatedSocket();
        if (fd >= 0) {
            if (!o.socketPath.empty() || !o.bindAddress.empty())
                die("socket activation cannot be combined with --socket or --bind");
            server->listenFd(fd);
        } else if (!o.socketPath.empty()) {
            server->listenUnix(o.socketPath);
        } else {
            server->listenTcp(o.bindAddress.empty() ? "127.0.0.1" : o.bindAddress, o.port);
        }
    } catch (const std::exception& e) {
        die(e.what());
    }
    pid_t self = getpid();
    if (!o.persistent)
        server->setOnIdle([self] { kill(self, SIGUSR1); });
    server->start();

    if (!o.pidFile.empty()) {
        FILE* f = std::fopen(o.pidFile.c_str(), "w");
        if (!f)
            die("Failed to write pid file '" + o.pidFile + "': " + std::strerror(errno));
        std::fprintf(f, "%d\n", int(self));
        std::fclose(f);
    }
    if (readyFd >= 0) {
        char c = 1;
        if (write(readyFd, &c, 1) != 1)
            die("cannot notify the parent process");
        close(readyFd);
        // Detach from the caller's terminal or pipes as qemu-nbd does (stderr too unless -v).
        int devNull = open("/dev/null", O_RDWR);
        if (devNull >= 0) {
            dup2(devNull, STDIN_FILENO);
            dup2(devNull, STDOUT_FILENO);
            if (!o.verbose)
                dup2(devNull, STDERR_FILENO);
            if (devNull > STDERR_FILENO)
                close(devNull);
        }
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&signals, &sig) != 0)
            continue;
        if (sig == SIGUSR1 && server->connectionCount() != 0)
            continue; // a new client arrived meanwhile
        break;
    }
    server->stop();
    server.reset();
    try {
        if (!image->readOnly())
            image->flush();
    } catch (const block::BlockError& e) {
        std::fprintf(stderr, "%s: flush on exit: %s\n", app::nbdToolName(), e.what());
    }
    image.reset();
    if (!o.pidFile.empty())
        unlink(o.pidFile.c_str());
    return EXIT_SUCCESS;
}

} // namespace

int main(int argc, char** argv) {
    app::setNbdToolName(argc > 0 ? argv[0] : nullptr);
    app::NbdToolOptions o;
    try {
        o = app::parseNbdToolOptions(argc, argv);
    } catch (const std::exception& e) {
        die(e.what());
    }
    if (o.list)
        return app::listExports(o);
    return serve(o);
}
