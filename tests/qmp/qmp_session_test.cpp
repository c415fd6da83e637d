// QmpSession + QmpContext with a fake machine: negotiation, errors as QEMU words them, events,
// machine commands, and the server over a real Unix socket.
#include "app/json/QdictOrder.h"
#include "app/qmp/QmpServer.h"
#include "app/qmp/QmpSession.h"

#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace e2kvm;
using qmp::Json;
namespace fs = std::filesystem;

namespace {

class FakeMachine : public qmp::QmpMachine {
public:
    std::string status() const override { return status_; }
    std::string name() const override { return "vm1"; }
    void stop() override {
        status_ = "paused";
        emit({qmp::QmpMachineEvent::Stop, false, ""});
    }
    void cont() override {
        status_ = "running";
        emit({qmp::QmpMachineEvent::Resume, false, ""});
    }
    void reset() override { emit({qmp::QmpMachineEvent::Reset, false, "host-qmp-system-reset"}); }
    void quit(const std::string& reason) override {
        status_ = "shutdown";
        emit({qmp::QmpMachineEvent::Shutdown, false, reason});
    }
    std::shared_ptr<const emu::FrameImage> screen() const override { return frame; }
    std::vector<qmp::QmpMachineDisk> disks() const override { return {{"disk0", "d0"}}; }
    void setEventHandler(std::function<void(const qmp::QmpMachineEvent&)> h) override {
        handler_ = std::move(h);
    }
    std::shared_ptr<emu::FrameImage> frame;

private:
    void emit(const qmp::QmpMachineEvent& e) {
        if (handler_)
            handler_(e);
    }
    std::string status_ = "running";
    std::function<void(const qmp::QmpMachineEvent&)> handler_;
};

class QmpSessionTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/e2kvm-qmp-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // One request line in, the parsed reply out.
    static Json call(qmp::QmpSession& s, const std::string& line) {
        std::string out = s.feed(line + "\n");
        EXPECT_FALSE(out.empty()) << line;
        EXPECT_EQ(out.back(), '\n');
        EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line per reply: " << out;
        return qmp::parseJson(out);
    }
    static std::string errorDesc(const Json& r) {
        const Json* e = r.find("error");
        return e ? e->find("class")->asString() + ": " + e->find("desc")->asString() : "no error";
    }

    std::string dir_;
    vm::BlockNodeTable nodes_;
};

TEST_F(QmpSessionTest, NegotiationAndProtocolErrors) {
    vm::NbdExportService nbd(nodes_);
    qmp::QmpContext ctx(nodes_, nbd);
    qmp::QmpSession s(ctx);
    Json g = qmp::parseJson(s.greeting());
    EXPECT_EQ(g.find("QMP")->find("capabilities")->serialize(), "[\"oob\"]");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "query-version"})")),
              "CommandNotFound: Expecting capabilities negotiation with 'qmp_capabilities'");
    EXPECT_EQ(call(s, R"({"execute": "qmp_capabilities", "id": 7})").serialize(),
              R"({"return": {}, "id": 7})");
    EXPECT_TRUE(s.commandMode());
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "nope"})")),
              "CommandNotFound: The command nope has not been found");
    EXPECT_EQ(errorDesc(call(s, R"([1])")), "GenericError: QMP input must be a JSON object");
    EXPECT_EQ(errorDesc(call(s, R"({"arguments": {}})")),
              "GenericError: QMP input lacks member 'execute'");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": 1})")),
              "GenericError: QMP input member 'execute' must be a string");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "quit", "extra": 1})")),
              "GenericError: QMP input member 'extra' is unexpected");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "query-version", "arguments": []})")),
              "GenericError: QMP input member 'arguments' must be an object");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "query-version", "arguments": {"x": 1}})")),
              "GenericError: Parameter 'x' is unexpected");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "block-dirty-bitmap-add", "arguments": {}})")),
              "GenericError: Parameter 'node' is missing");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "block-dirty-bitmap-add",
                                    "arguments": {"node": 5, "name": "b"}})")),
              "GenericError: Invalid parameter type for 'node', expected: string");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "nbd-server-start",
                                    "arguments": {"addr": {"type": "unix"}}})")),
              "GenericError: Parameter 'addr.path' is missing");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "stop"})")), "GenericError: No machine");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "screendump", "arguments": {"filename": "x"}})")),
              "GenericError: No machine");
    // A parse error is answered and the session goes on.
    EXPECT_NE(errorDesc(call(s, R"({"execute": )"
                                "\n}")),
              "no error");
    Json v = call(s, R"({"execute": "query-version"})");
    EXPECT_TRUE(v.find("return")->find("qemu")->find("major")->isInteger());
    Json cmds = call(s, R"({"execute": "query-commands"})");
    bool hasMerge = false;
    for (const Json& c : cmds.find("return")->asArray())
        hasMerge |= c.find("name")->asString() == "block-dirty-bitmap-merge";
    EXPECT_TRUE(hasMerge);
    EXPECT_EQ(call(s, R"({"execute": "query-name"})").serialize(), R"({"return": {}})");
    EXPECT_EQ(call(s, R"({"execute": "query-block"})").serialize(), R"({"return": []})");
}

TEST_F(QmpSessionTest, MachineCommandsAndEvents) {
    vm::NbdExportService nbd(nodes_);
    FakeMachine m;
    qmp::QmpContext ctx(nodes_, nbd, &m);
    std::vector<std::string> events;
    ctx.setEventSink([&](const std::string& e, const Json& data) {
        events.push_back(qmp::QmpSession::eventLine(e, data));
    });
    qmp::QmpSession s(ctx);
    call(s, R"({"execute": "qmp_capabilities"})");
    EXPECT_EQ(call(s, R"({"execute": "query-status"})").serialize(),
              R"({"return": {"status": "running", "singlestep": false, "running": true}})");
    call(s, R"({"execute": "stop"})");
    EXPECT_EQ(call(s, R"({"execute": "query-status"})").find("return")->find("status")->asString(),
              "paused");
    call(s, R"({"execute": "cont"})");
    call(s, R"({"execute": "system_reset"})");
    ASSERT_EQ(events.size(), 3u);
    Json stopEv = qmp::parseJson(events[0]);
    EXPECT_EQ(stopEv.find("event")->asString(), "STOP");
    EXPECT_TRUE(stopEv.find("timestamp")->find("seconds")->isInteger());
    EXPECT_TRUE(stopEv.find("timestamp")->find("microseconds")->isInteger());
    EXPECT_EQ(qmp::parseJson(events[1]).find("event")->asString(), "RESUME");
    EXPECT_EQ(qmp::parseJson(events[2]).find("data")->serialize(),
              R"({"guest": false, "reason": "host-qmp-system-reset"})");
    EXPECT_EQ(call(s, R"({"execute": "query-name"})").serialize(),
              R"({"return": {"name": "vm1"}})");
    EXPECT_EQ(call(s, R"({"execute": "query-block"})").find("return")->asArray().size(), 1u);

    // screendump: nothing drawn yet, then PPM and PNG files.
    std::string ppm = dir_ + "/s.ppm";
    EXPECT_NE(errorDesc(call(s, R"({"execute": "screendump", "arguments": {"filename": ")" + ppm +
                                    R"("}})")),
              "no error");
    m.frame = std::make_shared<emu::FrameImage>();
    m.frame->width = 2;
    m.frame->height = 1;
    m.frame->pixels = {0xff0000, 0x00ff00};
    EXPECT_EQ(call(s, R"({"execute": "screendump", "arguments": {"filename": ")" + ppm + R"("}})")
                  .serialize(),
              R"({"return": {}})");
    EXPECT_EQ(fs::file_size(ppm), std::string("P6\n2 1\n255\n").size() + 6);
    std::string png = dir_ + "/s.png";
    call(s, R"({"execute": "screendump", "arguments": {"filename": ")" + png +
                R"(", "format": "png"}})");
    EXPECT_TRUE(fs::exists(png));
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "screendump", "arguments": {"filename": "x",
                                    "format": "bmp"}})")),
              "GenericError: Parameter 'format' does not accept value 'bmp'");

    // quit: marked by the command, carried out after the reply.
    call(s, R"({"execute": "quit"})");
    EXPECT_TRUE(ctx.takeQuitRequest());
    bool quitCalled = false;
    ctx.setOnQuit([&] { quitCalled = true; });
    ctx.finishQuit();
    EXPECT_TRUE(quitCalled);
    EXPECT_EQ(qmp::parseJson(events.back()).find("data")->serialize(),
              R"({"guest": false, "reason": "host-qmp-quit"})");
}

TEST_F(QmpSessionTest, BitmapTransactionIsAtomic) {
    block::CreateOptions o;
    o.format = "qcow2";
    o.size = 1 << 20;
    o.sizeGiven = true;
    std::string img = dir_ + "/t.qcow2";
    block::createImage(img, o);
    vm::NbdExportService nbd(nodes_);
    qmp::QmpContext ctx(nodes_, nbd);
    qmp::QmpSession s(ctx);
    call(s, R"({"execute": "qmp_capabilities"})");
    EXPECT_EQ(call(s, R"({"execute": "blockdev-add", "arguments": {"driver": "file",
                          "node-name": "f", "filename": ")" +
                          img + R"("}})")
                  .serialize(),
              R"({"return": {}})");
    EXPECT_EQ(call(s, R"({"execute": "blockdev-add", "arguments": {"driver": "qcow2",
                          "node-name": "n", "file": "f"}})")
                  .serialize(),
              R"({"return": {}})");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "blockdev-del", "arguments": {"node-name": "f"}})")),
              "GenericError: Node f is in use");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "transaction", "arguments": {"actions": [
        {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "a"}},
        {"type": "block-dirty-bitmap-enable", "data": {"node": "n", "name": "zz"}}]}})")),
              "GenericError: Dirty bitmap 'zz' not found");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "transaction", "arguments": {"actions": [
        {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "a"}},
        {"type": "abort", "data": {}}]}})")),
              "GenericError: Transaction aborted using Abort action");
    EXPECT_TRUE(nodes_.find("n")->image->bitmaps()->list().empty());
    EXPECT_EQ(call(s, R"({"execute": "transaction", "arguments": {"actions": [
        {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "a", "disabled": true}},
        {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "b"}},
        {"type": "block-dirty-bitmap-enable", "data": {"node": "n", "name": "a"}},
        {"type": "block-dirty-bitmap-remove", "data": {"node": "n", "name": "b"}}]}})")
                  .serialize(),
              R"({"return": {}})");
    auto list = nodes_.find("n")->image->bitmaps()->list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].name, "a");
    EXPECT_TRUE(list[0].enabled);
    EXPECT_FALSE(list[0].persistent);
    // Writes are recorded; query-named-block-nodes shows the count.
    std::vector<uint8_t> data(4096, 1);
    nodes_.find("n")->image->write(65536, data);
    Json r = call(s, R"({"execute": "query-named-block-nodes"})");
    const Json& bm = r.find("return")->asArray()[0].find("dirty-bitmaps")->asArray()[0];
    // (members in QEMU's QDict order, as a reply sends them)
    EXPECT_EQ(json::inQdictOrder(bm).serialize(),
              R"({"name": "a", "recording": true, "persistent": false, "busy": false, )"
              R"("granularity": 65536, "count": 65536})");
    EXPECT_EQ(
        call(s, R"({"execute": "blockdev-del", "arguments": {"node-name": "n"}})").serialize(),
        R"({"return": {}})");
    EXPECT_EQ(
        call(s, R"({"execute": "blockdev-del", "arguments": {"node-name": "f"}})").serialize(),
        R"({"return": {}})");
    EXPECT_EQ(errorDesc(call(s, R"({"execute": "blockdev-del", "arguments": {"node-name": "n"}})")),
              "GenericError: Failed to find node with node-name='n'");
}

TEST_F(QmpSessionTest, ServerOverUnixSocket) {
    vm::NbdExportService nbd(nodes_);
    qmp::QmpContext ctx(nodes_, nbd);
    qmp::QmpServer server(ctx);
    std::string path = dir_ + "/qmp.sock";
    server.listen(qmp::parseQmpAddress("unix:" + path + ",server=on,wait=off"));
    server.start();
    auto connect = [&] {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        timeval tv{10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        return fd;
    };
    auto readLine = [](int fd) {
        std::string line;
        char c;
        while (recv(fd, &c, 1, 0) == 1 && c != '\n')
            line += c;
        return line;
    };
    int a = connect(), b = connect();
    EXPECT_NE(readLine(a).find("\"QMP\""), std::string::npos);
    EXPECT_NE(readLine(b).find("\"QMP\""), std::string::npos);
    std::string caps = "{\"execute\": \"qmp_capabilities\"}\n";
    send(a, caps.data(), caps.size(), 0);
    EXPECT_EQ(readLine(a), R"({"return": {}})");
    // Only the negotiated client hears events.
    ctx.emitEvent("TEST", Json());
    EXPECT_NE(readLine(a).find("\"event\": \"TEST\""), std::string::npos);
    send(b, caps.data(), caps.size(), 0);
    EXPECT_EQ(readLine(b), R"({"return": {}})");
    std::string quit = "{\"execute\": \"quit\", \"id\": \"q\"}\n";
    bool quitCalled = false;
    ctx.setOnQuit([&] { quitCalled = true; });
    send(a, quit.data(), quit.size(), 0);
    // As in QEMU 7.2, the SHUTDOWN of a quit comes before its reply.
    EXPECT_NE(readLine(a).find("SHUTDOWN"), std::string::npos);
    EXPECT_EQ(readLine(a), R"({"return": {}, "id": "q"})");
    EXPECT_NE(readLine(b).find("SHUTDOWN"), std::string::npos);
    server.stop();
    EXPECT_TRUE(quitCalled);
    EXPECT_FALSE(fs::exists(path));
    close(a);
    close(b);
    EXPECT_THROW(qmp::parseQmpAddress("unix:/x,server=on,wait=on"), std::invalid_argument);
    EXPECT_THROW(qmp::parseQmpAddress("file:/x"), std::invalid_argument);
    EXPECT_EQ(qmp::parseQmpAddress("tcp:127.0.0.1:4444,server,nowait").port, 4444);
}

TEST_F(QmpSessionTest, HostileClientsDoNotHurtTheServer) {
    vm::NbdExportService nbd(nodes_);
    qmp::QmpContext ctx(nodes_, nbd);
    qmp::QmpServer server(ctx);
    std::string path = dir_ + "/qmp.sock";
    server.listen(qmp::parseQmpAddress("unix:" + path));
    server.start();
    auto connect = [&] {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
        EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
        timeval tv{10, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        return fd;
    };
    auto readLine = [](int fd) {
        std::string line;
        char c;
        while (recv(fd, &c, 1, 0) == 1 && c != '\n')
            line += c;
        return line;
    };
    auto sendAll = [](int fd, const std::string& data) {
        size_t done = 0;
        while (done < data.size()) {
            ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            done += size_t(n);
        }
        return true;
    };
    // Clients that leave at once or in the middle of a command.
    for (int i = 0; i < 5; ++i)
        close(connect());
    int partial = connect();
    sendAll(partial, "{\"execute\": \"qmp_capab");
    close(partial);
    // An oversized request is refused; the same client goes on afterwards.
    int big = connect();
    readLine(big);
    std::string huge = "{\"execute\": \"" + std::string(9u << 20, 'x');
    ASSERT_TRUE(sendAll(big, huge));
    EXPECT_NE(readLine(big).find("too large"), std::string::npos);
    ASSERT_TRUE(sendAll(big, "\"}\n{\"execute\": \"qmp_capabilities\"}\n"));
    EXPECT_EQ(readLine(big), R"({"return": {}})");
    // Deep nesting and garbage get error replies, not a crash.
    ASSERT_TRUE(sendAll(big, std::string(100000, '[') + std::string(100000, ']') + "\n"));
    EXPECT_NE(readLine(big).find("\"error\""), std::string::npos);
    ASSERT_TRUE(sendAll(big, "\x01\xff garbage\n"));
    EXPECT_NE(readLine(big).find("\"error\""), std::string::npos);
    ASSERT_TRUE(sendAll(big, "{\"execute\": \"query-version\"}\n"));
    EXPECT_NE(readLine(big).find("\"return\""), std::string::npos);
    close(big);
    // A fresh client still gets its greeting.
    int last = connect();
    EXPECT_NE(readLine(last).find("\"QMP\""), std::string::npos);
    close(last);
    server.stop();
}

} // namespace
