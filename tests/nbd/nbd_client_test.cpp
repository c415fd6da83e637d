// Client, URI parsing, the "nbd" BlockDriver, and many concurrent clients of one export.
#include "ServerFixture.h"

#include "block/ImageOpen.h"
#include "nbd/Client.h"
#include "nbd/NbdError.h"
#include "nbd/NbdImage.h"
#include "nbd/NbdUri.h"
#include "nbd/Protocol.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace e2kvm::nbd::test {
namespace {

TEST(NbdUriTest, ParsesLibnbdForms) {
    NbdUri u = parseNbdUri("nbd://example.com:1234/disk%201");
    EXPECT_EQ(u.host, "example.com");
    EXPECT_EQ(u.port, 1234);
    EXPECT_EQ(u.exportName, "disk 1");
    EXPECT_FALSE(u.tls);
    u = parseNbdUri("nbd://[::1]/");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(u.port, 10809);
    EXPECT_EQ(u.exportName, "");
    u = parseNbdUri("nbds+unix:///x?socket=/tmp/s&tls-certificates=/etc/pki");
    EXPECT_TRUE(u.tls);
    EXPECT_EQ(u.socketPath, "/tmp/s");
    EXPECT_EQ(u.exportName, "x");
    EXPECT_EQ(u.tlsCertificates, "/etc/pki");
    u = parseNbdUri("nbd://host");
    EXPECT_EQ(u.exportName, "");
    for (const char* bad :
         {"http://x/", "nbd+unix:///x", "nbd+unix://host/x?socket=/s", "nbd://h:0/",
          "nbd://h:99999/", "nbd://h:12x/", "nbd://[::1/", "nbd://h/%zz", "nbd://h/%4"})
        EXPECT_THROW(parseNbdUri(bad), NbdError) << bad;
    EXPECT_TRUE(isNbdUri("nbd+unix:///?socket=x"));
    EXPECT_FALSE(isNbdUri("disk.qcow2"));
}

TEST(NbdUri, LegacyNamesAndQemuCanonicalNames) {
    NbdUri u = parseNbdUri("nbd:unix:/run/s.sock:exportname=disk");
    EXPECT_EQ(u.socketPath, "/run/s.sock");
    EXPECT_EQ(u.exportName, "disk");
    EXPECT_EQ(canonicalNbdName(u), "nbd+unix:///disk?socket=/run/s.sock");
    u = parseNbdUri("nbd:unix:/run/s.sock");
    EXPECT_EQ(canonicalNbdName(u), "nbd+unix://?socket=/run/s.sock");
    u = parseNbdUri("nbd:example.org:10810");
    EXPECT_EQ(u.host, "example.org");
    EXPECT_EQ(u.port, 10810);
    EXPECT_EQ(canonicalNbdName(u), "nbd://example.org:10810");
    u = parseNbdUri("nbd:[::1]:10809:exportname=e");
    EXPECT_EQ(u.host, "::1");
    EXPECT_EQ(canonicalNbdName(u), "nbd://[::1]/e");
    EXPECT_TRUE(isNbdUri("nbd:unix:/s"));
    for (const char* bad : {"nbd:unix:", "nbd::10809", "nbd:h:0", "nbd:[::1:1"})
        EXPECT_THROW(parseNbdUri(bad), NbdError) << bad;
}

TEST(NbdUri, TargetFromImageOptions) {
    std::string bitmap;
    NbdUri u = nbdTargetFromOptions({{"driver", "nbd"},
                                     {"server.type", "unix"},
                                     {"server.path", "/s"},
                                     {"export", "e"},
                                     {"x-dirty-bitmap", "qemu:dirty-bitmap:b0"}},
                                    &bitmap);
    EXPECT_EQ(u.socketPath, "/s");
    EXPECT_EQ(u.exportName, "e");
    EXPECT_EQ(bitmap, "qemu:dirty-bitmap:b0");
    u = nbdTargetFromOptions({{"type", "inet"}, {"host", "h"}, {"port", "1234"}}, nullptr);
    EXPECT_EQ(u.host, "h");
    EXPECT_EQ(u.port, 1234);
    EXPECT_THROW(nbdTargetFromOptions({{"server.type", "unix"}}, nullptr), NbdError);
    EXPECT_THROW(nbdTargetFromOptions({{"server.type", "vsock"}}, nullptr), NbdError);
    EXPECT_THROW(nbdTargetFromOptions({}, nullptr), NbdError);
}

class ClientTest : public ServerFixture {
protected:
    void SetUp() override {
        ServerFixture::SetUp();
        startServer();
        ExportConfig c;
        c.name = "d";
        c.image = makeRaw("d.raw", 8 << 20, 1 << 20, 1 << 20, 0x11);
        c.readOnly = false;
        server_->addExport(c);
    }
    std::string uri() const { return "nbd+unix:///d?socket=" + socket_; }
};

TEST_F(ClientTest, ReadWriteStatusThroughClient) {
    auto c = Client::connect(parseNbdUri(uri()), {"base:allocation"});
    EXPECT_EQ(c->size(), 8u << 20);
    EXPECT_EQ(c->flags() & TfReadOnly, 0);
    std::vector<uint8_t> buf(8192);
    c->read((1 << 20) - 4096, buf);
    EXPECT_EQ(buf[0], 0);
    EXPECT_EQ(buf[4096], 0x11);
    std::vector<uint8_t> w(4096, 0x33);
    c->write(0, w, true);
    c->flush();
    auto ex = c->blockStatus("base:allocation", 0, 8 << 20);
    ASSERT_GE(ex.size(), 3u);
    EXPECT_EQ(ex[0].flags, 0u); // data now
    c->read(0, std::span<uint8_t>(buf.data(), 4096));
    EXPECT_EQ(buf[0], 0x33);
    EXPECT_THROW(c->read(8 << 20, std::span<uint8_t>(buf.data(), 1)), block::BlockError);
    c->disconnect();
}

TEST_F(ClientTest, RefusedExportAndListing) {
    NbdUri u = parseNbdUri(uri());
    u.exportName = "nosuch";
    EXPECT_THROW(Client::connect(u), NbdError);
    auto list = Client::list(parseNbdUri(uri()));
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].name, "d");
    EXPECT_EQ(list[0].size, 8u << 20);
    EXPECT_EQ(list[0].contexts, std::vector<std::string>{"base:allocation"});
}

TEST_F(ClientTest, OpenImageAcceptsNbdUris) {
    registerNbdProtocol();
    block::OpenOptions o;
    o.readOnly = false;
    auto img = block::openImage(uri(), o);
    // As qemu-img info: an export opened by name is raw over the nbd protocol.
    EXPECT_EQ(img->formatName(), "raw");
    EXPECT_EQ(img->size(), 8u << 20);
    std::vector<uint8_t> buf(512, 0x44);
    img->write(4096, buf);
    img->writeZeroes(1 << 20, 65536);
    auto st = img->layerStatus(0, 8 << 20);
    EXPECT_EQ(st.kind, block::Allocation::Zero);
    std::vector<uint8_t> back(512);
    img->read(4096, back);
    EXPECT_EQ(back, buf);
    EXPECT_THROW(block::openImage("nbd+unix:///nosuch?socket=" + socket_, o), block::BlockError);
}

TEST_F(ClientTest, ManyReadersAndWritersOnOneExport) {
    // 32 readers of the constant region [1 MiB, 2 MiB) and 4 writers, each owning one MiB
    // of [4 MiB, 8 MiB), all at once on separate connections.
    constexpr int kReaders = 32, kWriters = 4, kRounds = 20;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int r = 0; r < kReaders; ++r)
        threads.emplace_back([&, r] {
            try {
                auto c = Client::connect(parseNbdUri(uri()));
                std::vector<uint8_t> buf(65536);
                for (int i = 0; i < kRounds; ++i) {
                    c->read((1 << 20) + uint64_t((r * 7 + i) % 16) * 65536, buf);
                    for (uint8_t b : buf)
                        if (b != 0x11) {
                            ++failures;
                            return;
                        }
                }
            } catch (const std::exception&) {
                ++failures;
            }
        });
    for (int w = 0; w < kWriters; ++w)
        threads.emplace_back([&, w] {
            try {
                auto c = Client::connect(parseNbdUri(uri()));
                for (int i = 0; i < 16; ++i) {
                    std::vector<uint8_t> buf(65536, uint8_t(0x40 + w * 16 + i));
                    c->write((4u << 20) + uint64_t(w) * (1 << 20) + uint64_t(i) * 65536, buf);
                }
                c->flush();
            } catch (const std::exception&) {
                ++failures;
            }
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    std::string file = readFile("d.raw");
    ASSERT_EQ(file.size(), 8u << 20);
    for (int w = 0; w < kWriters; ++w)
        for (int i = 0; i < 16; ++i) {
            size_t off = (4u << 20) + size_t(w) * (1 << 20) + size_t(i) * 65536;
            EXPECT_EQ(file.substr(off, 65536), std::string(65536, char(0x40 + w * 16 + i)))
                << "writer " << w << " block " << i;
        }
    EXPECT_EQ(file.substr(1 << 20, 1 << 20), std::string(1 << 20, '\x11'));
    EXPECT_EQ(server_->totalConnections(), unsigned(kReaders + kWriters));
}

TEST_F(ClientTest, ConnectionLimitQueuesExtraClients) {
    server_->stop();
    server_.reset();
    ServerOptions o;
    o.maxConnections = 1;
    startServer(o);
    ExportConfig c;
    c.name = "d";
    c.image = makeRaw("e.raw", 1 << 20);
    server_->addExport(c);
    auto first = Client::connect(parseNbdUri(uri()));
    EXPECT_EQ(first->flags() & TfCanMultiConn, 0); // -e 1: no multi-conn, as qemu-nbd
    std::atomic<bool> secondConnected{false};
    std::thread t([&] {
        auto second = Client::connect(parseNbdUri(uri()));
        secondConnected = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(secondConnected.load());
    first->disconnect();
    t.join();
    EXPECT_TRUE(secondConnected.load());
}

} // namespace
} // namespace e2kvm::nbd::test
