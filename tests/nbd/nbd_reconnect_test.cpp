// An NBD node with reconnect-delay (QEMU's BlockdevOptionsNbd) whose server goes away: its
// requests wait, and are sent again once the server is back; they fail with EIO when the delay
// ends first; a cancel (a job cancelled with force) ends the wait at once.
#include "ServerFixture.h"

#include "block/BlockError.h"
#include "block/ImageOpen.h"
#include "block/ImageOptions.h"
#include "block/InFlightRequests.h"
#include "nbd/NbdImage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace e2kvm::nbd::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class ReconnectTest : public ServerFixture {
protected:
    void SetUp() override {
        ServerFixture::SetUp();
        registerNbdProtocol();
        makeRaw("d.raw", 4 << 20, 0, 1 << 20, 0x21);
        serve();
    }
    // (Re)starts the server of d.raw on the same socket.
    void serve() {
        startServer();
        block::OpenOptions o;
        o.format = "raw";
        o.readOnly = false;
        ExportConfig c;
        c.name = "d";
        c.image = block::openImage(dir_ + "/d.raw", o);
        c.readOnly = false;
        server_->addExport(c);
    }
    void stopServer() {
        server_->stop();
        server_.reset();
    }
    // The node as blockdev-add gives it: driver=nbd with server, export and reconnect-delay.
    std::unique_ptr<block::BlockDriver> openNode(int reconnectDelay) {
        block::OpenOptions o;
        o.readOnly = false;
        return block::openImageFromOptions({{"driver", "nbd"},
                                            {"server.type", "unix"},
                                            {"server.path", socket_},
                                            {"export", "d"},
                                            {"reconnect-delay", std::to_string(reconnectDelay)}},
                                           o);
    }
    static int errnoOf(const std::function<void()>& request) {
        try {
            request();
        } catch (const block::BlockError& e) {
            return e.errnoValue();
        }
        return 0;
    }
};

TEST_F(ReconnectTest, WaitingRequestsAreSentAgainWhenTheServerIsBack) {
    auto node = openNode(10);
    std::vector<uint8_t> buf(4096);
    node->read(0, buf);
    EXPECT_EQ(buf[0], 0x21);
    stopServer();
    const std::vector<uint8_t> data(65536, 0x5a);
    auto write = std::async(std::launch::async, [&] {
        return errnoOf([&] {
            node->write(2 << 20, data);
            node->flush();
        });
    });
    // The server is away: the write waits for it instead of failing.
    EXPECT_EQ(write.wait_for(700ms), std::future_status::timeout);
    serve();
    ASSERT_EQ(write.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(write.get(), 0);
    // The write reached the image, and later requests use the new connection.
    std::vector<uint8_t> back(data.size());
    node->read(2 << 20, back);
    EXPECT_EQ(back, data);
    EXPECT_EQ(readFile("d.raw").substr(2 << 20, data.size()),
              std::string(data.begin(), data.end()));
}

TEST_F(ReconnectTest, RequestsFailWithEioWhenTheDelayEnds) {
    auto node = openNode(1);
    std::vector<uint8_t> buf(4096);
    node->read(0, buf);
    stopServer();
    const auto start = Clock::now();
    EXPECT_EQ(errnoOf([&] { node->read(0, buf); }), EIO);
    const auto waited = Clock::now() - start;
    EXPECT_GE(waited, 900ms);
    EXPECT_LT(waited, 5s);
    // After the delay, requests do not wait any more...
    const auto again = Clock::now();
    EXPECT_EQ(errnoOf([&] { node->read(0, buf); }), EIO);
    EXPECT_LT(Clock::now() - again, 500ms);
    // ...and a server that is back is used again.
    serve();
    std::this_thread::sleep_for(1100ms); // attempts without a wait are made once a second
    EXPECT_EQ(errnoOf([&] { node->read(0, buf); }), 0);
    EXPECT_EQ(buf[0], 0x21);
}

TEST_F(ReconnectTest, WithoutDelayALostConnectionFailsAtOnce) {
    auto node = openNode(0);
    std::vector<uint8_t> buf(4096);
    node->read(0, buf);
    stopServer();
    const auto start = Clock::now();
    EXPECT_EQ(errnoOf([&] { node->read(0, buf); }), EIO);
    EXPECT_LT(Clock::now() - start, 500ms);
}

TEST_F(ReconnectTest, CancelInFlightEndsTheWait) {
    auto node = openNode(30);
    auto* waiting = dynamic_cast<block::InFlightRequests*>(node.get());
    ASSERT_NE(waiting, nullptr);
    std::vector<uint8_t> buf(4096);
    node->read(0, buf);
    stopServer();
    auto read =
        std::async(std::launch::async, [&] { return errnoOf([&] { node->read(0, buf); }); });
    EXPECT_EQ(read.wait_for(500ms), std::future_status::timeout);
    const auto start = Clock::now();
    waiting->cancelInFlight();
    ASSERT_EQ(read.wait_for(5s), std::future_status::ready);
    EXPECT_EQ(read.get(), EIO);
    EXPECT_LT(Clock::now() - start, 2s);
}

} // namespace
} // namespace e2kvm::nbd::test
