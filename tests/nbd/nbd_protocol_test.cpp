// Protocol tests: the server's answers to well-formed and malformed negotiation and requests,
// byte for byte where qemu-nbd 7.2's behaviour is known, and survival after every bad client.
#include "RawNbdPeer.h"
#include "ServerFixture.h"

#include "block/bitmap/DirtyBitmap.h"
#include "nbd/NbdError.h"
#include "nbd/Protocol.h"

#include <gtest/gtest.h>

#include <set>

namespace e2kvm::nbd::test {
namespace {

constexpr uint64_t kSize = 4 << 20;

class ProtocolTest : public ServerFixture {
protected:
    void SetUp() override {
        ServerFixture::SetUp();
        // data at [1 MiB, 2 MiB) = 0x11, the rest a hole
        startServer();
        ExportConfig rw;
        rw.name = "rw";
        rw.image = makeRaw("rw.raw", kSize, 1 << 20, 1 << 20, 0x11);
        rw.readOnly = false;
        rw.allocationDepth = true;
        auto b1 = std::make_shared<block::DirtyBitmap>(kSize, 512);
        b1->set(0, 1024);
        auto b2 = std::make_shared<block::DirtyBitmap>(kSize, 65536);
        b2->set(2 << 20, 2 << 20);
        rw.bitmaps = {{"b2", b2}, {"b", b1}};
        server_->addExport(rw);
        ExportConfig ro;
        ro.name = "ro";
        ro.description = "read only";
        ro.image = makeRaw("ro.raw", kSize, 0, 4096, 0x22, true);
        server_->addExport(ro);
    }
    // After any misbehaving client: a well-behaved one still gets served.
    void expectServerAlive() {
        RawNbdPeer p(socket_);
        EXPECT_EQ(p.negotiate("ro", true) & TfReadOnly, TfReadOnly);
        p.sendRequest(0, CmdRead, 7, 0, 16);
        auto r = p.readReply();
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].type, ChunkOffsetData);
        EXPECT_EQ(r[0].payload.size(), 8u + 16u);
        EXPECT_EQ(r[0].payload[8], 0x22);
    }
};

TEST_F(ProtocolTest, GreetingAdvertisesFixedNewstyleAndNoZeroes) {
    RawNbdPeer p(socket_);
    EXPECT_EQ(p.readGreeting(), kFlagFixedNewstyle | kFlagNoZeroes);
}

TEST_F(ProtocolTest, UnknownClientFlagsEndTheConnection) {
    {
        RawNbdPeer p(socket_);
        p.readGreeting();
        p.sendClientFlags(0x80);
        EXPECT_TRUE(p.closedByServer());
    }
    expectServerAlive();
}

TEST_F(ProtocolTest, BadOptionMagicEndsTheConnection) {
    {
        RawNbdPeer p(socket_);
        p.readGreeting();
        p.sendClientFlags(1);
        p.sendRaw(std::vector<uint8_t>(16, 0xab));
        EXPECT_TRUE(p.closedByServer());
    }
    expectServerAlive();
}

TEST_F(ProtocolTest, HugeOptionLengthEndsTheConnection) {
    {
        RawNbdPeer p(socket_);
        p.readGreeting();
        p.sendClientFlags(1);
        WireWriter w;
        w.u64(kOptMagic);
        w.u32(OptGo);
        w.u32(0xffffffff);
        p.sendRaw(w.bytes);
        EXPECT_TRUE(p.closedByServer());
    }
    expectServerAlive();
}

TEST_F(ProtocolTest, UnknownOptionIsUnsupportedAndNegotiationContinues) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(3);
    auto r = p.optionUntilFinal(42, {1, 2, 3});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].type, RepErrUnsup);
    EXPECT_EQ(r[0].option, 42u);
    EXPECT_EQ(r[0].text(), "Unsupported option 42 (<unknown>)");
    EXPECT_EQ(p.optionUntilFinal(OptStructuredReply, {}).back().type, RepAck);
}

TEST_F(ProtocolTest, OptionErrors) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(3);
    EXPECT_EQ(p.optionUntilFinal(OptList, {1}).back().type, RepErrInvalid);
    EXPECT_EQ(p.optionUntilFinal(OptStartTls, {}).back().type, RepErrPolicy);
    EXPECT_EQ(p.optionUntilFinal(OptStartTls, {}).back().text(), "TLS not configured");
    EXPECT_EQ(
        p.optionUntilFinal(OptSetMetaContext, metaPayload("rw", {"base:allocation"})).back().type,
        RepErrInvalid); // before structured replies
    EXPECT_EQ(p.optionUntilFinal(OptStructuredReply, {}).back().type, RepAck);
    auto again = p.optionUntilFinal(OptStructuredReply, {});
    EXPECT_EQ(again.back().type, RepErrInvalid);
    EXPECT_EQ(again.back().text(), "structured reply already negotiated");
    auto unknown = p.optionUntilFinal(OptInfo, infoPayload("nosuch", {}));
    EXPECT_EQ(unknown.back().type, RepErrUnknown);
    EXPECT_EQ(unknown.back().text(), "export 'nosuch' not present");
    // As qemu-nbd: a name of 80 bytes or more is quoted as its first 80 and "..." (iotest 143).
    const std::string name79(79, 'b'), name80(80, 'b');
    EXPECT_EQ(p.optionUntilFinal(OptInfo, infoPayload(name79, {})).back().text(),
              "export '" + name79 + "' not present");
    EXPECT_EQ(p.optionUntilFinal(OptGo, infoPayload(name80 + "c", {})).back().text(),
              "export '" + name80 + "...' not present");
    EXPECT_EQ(p.optionUntilFinal(OptInfo, {0, 0, 0, 9, 'x'}).back().type, RepErrInvalid);
    EXPECT_EQ(p.optionUntilFinal(OptGo, {0, 0, 0}).back().type, RepErrInvalid);
    auto trailing = infoPayload("rw", {});
    trailing.push_back(0);
    EXPECT_EQ(p.optionUntilFinal(OptGo, trailing).back().type, RepErrInvalid);
    EXPECT_EQ(p.optionUntilFinal(OptListMetaContext, metaPayload("nosuch", {})).back().type,
              RepErrUnknown);
    auto badMeta = metaPayload("rw", {"base:allocation"});
    badMeta[badMeta.size() - 20] = 0x7f; // a query length pointing past the end
    EXPECT_EQ(p.optionUntilFinal(OptListMetaContext, badMeta).back().type, RepErrInvalid);
    // still negotiating: GO works
    auto go = p.optionUntilFinal(OptGo, infoPayload("rw", {}));
    EXPECT_EQ(go.back().type, RepAck);
}

TEST_F(ProtocolTest, InfoRepliesInQemuOrderWithFlags) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(3);
    p.optionUntilFinal(OptStructuredReply, {});
    auto r = p.optionUntilFinal(OptInfo, infoPayload("ro", {InfoName, InfoBlockSize}));
    ASSERT_EQ(r.size(), 5u);
    EXPECT_EQ(be32(r[0].data.data()) >> 16, InfoName);
    EXPECT_EQ(std::string(r[0].data.begin() + 2, r[0].data.end()), "ro");
    EXPECT_EQ(be32(r[1].data.data()) >> 16, InfoDescription);
    EXPECT_EQ(std::string(r[1].data.begin() + 2, r[1].data.end()), "read only");
    ASSERT_EQ(r[2].data.size(), 14u);
    EXPECT_EQ(be32(r[2].data.data() + 2), 1u);
    EXPECT_EQ(be32(r[2].data.data() + 6), 4096u);
    EXPECT_EQ(be32(r[2].data.data() + 10), 32u << 20);
    ASSERT_EQ(r[3].data.size(), 12u);
    EXPECT_EQ(be64(r[3].data.data() + 2), kSize);
    // read-only, SR negotiated, server allows any number of connections: 0x58f
    EXPECT_EQ((r[3].data[10] << 8) | r[3].data[11], 0x58f);
    EXPECT_EQ(r[4].type, RepAck);
    auto w = p.optionUntilFinal(OptGo, infoPayload("rw", {}));
    ASSERT_GE(w.size(), 3u);
    const auto& exp = w[w.size() - 2].data;
    EXPECT_EQ((exp[10] << 8) | exp[11], 0xded);
}

TEST_F(ProtocolTest, ListShowsNamesAndDescriptions) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(3);
    auto r = p.optionUntilFinal(OptList, {});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].type, RepServer);
    EXPECT_EQ(std::string(r[0].data.begin() + 4, r[0].data.end()), "rw");
    EXPECT_EQ(std::string(r[1].data.begin() + 4, r[1].data.end()), "roread only");
    EXPECT_EQ(r[2].type, RepAck);
}

TEST_F(ProtocolTest, MetaContextListingAndSelectionAsQemu) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(3);
    auto names = [](const std::vector<OptReply>& rs) {
        std::vector<std::pair<uint32_t, std::string>> out;
        for (const auto& r : rs)
            if (r.type == RepMetaContext)
                out.emplace_back(be32(r.data.data()),
                                 std::string(r.data.begin() + 4, r.data.end()));
        return out;
    };
    using V = std::vector<std::pair<uint32_t, std::string>>;
    EXPECT_EQ(names(p.optionUntilFinal(OptListMetaContext, metaPayload("rw", {}))),
              (V{{0, "base:allocation"},
                 {0, "qemu:allocation-depth"},
                 {0, "qemu:dirty-bitmap:b2"},
                 {0, "qemu:dirty-bitmap:b"}}));
    EXPECT_EQ(names(p.optionUntilFinal(OptListMetaContext,
                                       metaPayload("rw", {"qemu:dirty-bitmap:", "x:y"}))),
              (V{{0, "qemu:dirty-bitmap:b2"}, {0, "qemu:dirty-bitmap:b"}}));
    EXPECT_EQ(names(p.optionUntilFinal(OptListMetaContext, metaPayload("ro", {"qemu:"}))), V{});
    p.optionUntilFinal(OptStructuredReply, {});
    EXPECT_EQ(
        names(p.optionUntilFinal(
            OptSetMetaContext,
            metaPayload("rw", {"qemu:dirty-bitmap:b", "base:allocation",
                               "qemu:", "qemu:dirty-bitmap:nosuch", "qemu:allocation-depth"}))),
        (V{{0, "base:allocation"}, {1, "qemu:allocation-depth"}, {3, "qemu:dirty-bitmap:b"}}));
    EXPECT_EQ(names(p.optionUntilFinal(OptSetMetaContext, metaPayload("rw", {"base:"}))), V{});
}

class TransmissionTest : public ProtocolTest {
protected:
    void connectRw(bool structured = true) {
        peer_ = std::make_unique<RawNbdPeer>(socket_);
        peer_->negotiate("rw", structured,
                         structured
                             ? std::vector<std::string>{"base:allocation", "qemu:allocation-depth",
                                                        "qemu:dirty-bitmap:b"}
                             : std::vector<std::string>{});
    }
    Chunk expectError(uint32_t err) {
        auto r = peer_->readReply();
        EXPECT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].error, err);
        return r[0];
    }
    std::unique_ptr<RawNbdPeer> peer_;
};

TEST_F(TransmissionTest, ValidationErrorsAreEinvalWithQemuMessages) {
    connectRw();
    peer_->sendRequest(0, CmdRead, 1, kSize - 512, 1024);
    auto c = expectError(NbdEinval);
    EXPECT_EQ(c.type, ChunkError);
    EXPECT_EQ(c.message, "operation past EOF; From: 4193792, Len: 1024, Size: 4194304");
    peer_->sendRequest(CmdFlagNoHole, CmdRead, 2, 0, 512);
    EXPECT_EQ(expectError(NbdEinval).message, "unsupported flags for command read (got 0x2)");
    peer_->sendRequest(0, 99, 3, 0, 0);
    EXPECT_EQ(expectError(NbdEinval).message, "invalid request type (99) received");
    peer_->sendRequest(0, CmdBlockStatus, 4, 0, 0);
    EXPECT_EQ(expectError(NbdEinval).message, "need non-zero length");
    peer_->sendRequest(0, CmdRead, 5, 0, (32u << 20) + 1);
    EXPECT_EQ(expectError(NbdEinval).message, "len (33554433) is larger than max len (33554432)");
    peer_->sendRequest(0, CmdWrite, 6, kSize, 1, {0});
    EXPECT_EQ(expectError(NbdEinval).message.substr(0, 22), "operation past EOF; Fr");
    peer_->sendRequest(CmdFlagReqOne, CmdWriteZeroes, 7, 0, 512);
    EXPECT_EQ(expectError(NbdEinval).message,
              "unsupported flags for command write zeroes (got 0x8)");
    // The connection is still fine.
    peer_->sendRequest(0, CmdFlush, 8, 0, 0);
    auto ok = peer_->readReply();
    EXPECT_TRUE(ok[0].simple);
    EXPECT_EQ(ok[0].error, 0u);
}

TEST_F(TransmissionTest, ReadOnlyExportRefusesWritesWithEperm) {
    // The NBD specification (and nbdkit) answer EPERM to every modifying command.
    peer_ = std::make_unique<RawNbdPeer>(socket_);
    peer_->negotiate("ro", false);
    peer_->sendRequest(0, CmdWrite, 1, 0, 4, {1, 2, 3, 4});
    auto r = peer_->readReply();
    EXPECT_TRUE(r[0].simple);
    EXPECT_EQ(r[0].error, NbdEperm);
    peer_->sendRequest(0, CmdTrim, 2, 0, 4096);
    EXPECT_EQ(peer_->readReply()[0].error, NbdEperm);
    peer_->sendRequest(0, CmdWriteZeroes, 4, 0, 4096);
    EXPECT_EQ(peer_->readReply()[0].error, NbdEperm);
    peer_->sendRequest(0, CmdRead, 3, 0, 8);
    auto d = peer_->readReply(8);
    EXPECT_EQ(d[0].error, 0u);
    EXPECT_EQ(d[0].payload, std::vector<uint8_t>(8, 0x22));
}

TEST_F(TransmissionTest, OversizedWriteEndsTheConnectionServerSurvives) {
    connectRw();
    peer_->sendRequest(0, CmdWrite, 1, 0, 64u << 20);
    EXPECT_EQ(expectError(NbdEinval).message, "len (67108864) is larger than max len (33554432)");
    EXPECT_TRUE(peer_->closedByServer());
    expectServerAlive();
}

TEST_F(TransmissionTest, BadRequestMagicEndsTheConnection) {
    connectRw();
    peer_->sendRaw(std::vector<uint8_t>(28, 0x55));
    EXPECT_TRUE(peer_->closedByServer());
    expectServerAlive();
}

TEST_F(TransmissionTest, TruncatedRequestsAndWritePayloadsDoNotHurtTheServer) {
    for (int cut : {1, 27, 28 + 100}) {
        connectRw();
        WireWriter w;
        w.u32(kRequestMagic);
        w.u16(0);
        w.u16(CmdWrite);
        w.u64(1);
        w.u64(0);
        w.u32(4096);
        w.bytes.resize(size_t(cut), 0);
        peer_->sendRaw(w.bytes);
        peer_.reset();
    }
    expectServerAlive();
}

TEST_F(TransmissionTest, StructuredReadSplitsDataAndHoles) {
    connectRw();
    peer_->sendRequest(0, CmdRead, 9, (1 << 20) - 4096, 8192);
    auto r = peer_->readReply();
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].type, ChunkOffsetHole);
    EXPECT_EQ(be64(r[0].payload.data()), uint64_t((1 << 20) - 4096));
    EXPECT_EQ(be32(r[0].payload.data() + 8), 4096u);
    EXPECT_EQ(r[0].flags, 0);
    EXPECT_EQ(r[1].type, ChunkOffsetData);
    EXPECT_EQ(r[1].flags, kReplyFlagDone);
    EXPECT_EQ(be64(r[1].payload.data()), uint64_t(1 << 20));
    EXPECT_EQ(r[1].payload.size(), 8u + 4096u);
    EXPECT_EQ(r[1].payload[8], 0x11);
    // DF: one data chunk with the zeros inline
    peer_->sendRequest(CmdFlagDf, CmdRead, 10, (1 << 20) - 4096, 8192);
    auto df = peer_->readReply();
    ASSERT_EQ(df.size(), 1u);
    EXPECT_EQ(df[0].type, ChunkOffsetData);
    EXPECT_EQ(df[0].payload.size(), 8u + 8192u);
    EXPECT_EQ(df[0].payload[8], 0);
    EXPECT_EQ(df[0].payload[8 + 4096], 0x11);
}

TEST_F(TransmissionTest, BlockStatusPerContextClippedAndMerged) {
    connectRw();
    peer_->sendRequest(0, CmdBlockStatus, 11, 1000, 2000);
    auto r = peer_->readReply();
    ASSERT_EQ(r.size(), 3u);
    auto extents = [](const Chunk& c) {
        std::vector<std::pair<uint32_t, uint32_t>> out;
        for (size_t i = 4; i + 8 <= c.payload.size(); i += 8)
            out.emplace_back(be32(c.payload.data() + i), be32(c.payload.data() + i + 4));
        return out;
    };
    using V = std::vector<std::pair<uint32_t, uint32_t>>;
    EXPECT_EQ(be32(r[0].payload.data()), 0u);
    EXPECT_EQ(extents(r[0]), (V{{2000, 3}}));
    EXPECT_EQ(be32(r[1].payload.data()), 1u);
    EXPECT_EQ(extents(r[1]), (V{{2000, 1}}));
    EXPECT_EQ(be32(r[2].payload.data()), 3u);
    EXPECT_EQ(extents(r[2]), (V{{24, 1}, {1976, 0}})); // qemu-nbd 7.2's answer
    EXPECT_EQ(r[2].flags, kReplyFlagDone);
    EXPECT_EQ(r[0].flags, 0);

    peer_->sendRequest(0, CmdBlockStatus, 12, 0, uint32_t(kSize));
    r = peer_->readReply();
    EXPECT_EQ(extents(r[0]), (V{{1 << 20, 3}, {1 << 20, 0}, {2 << 20, 3}}));
    peer_->sendRequest(CmdFlagReqOne, CmdBlockStatus, 13, 0, uint32_t(kSize));
    r = peer_->readReply();
    EXPECT_EQ(extents(r[0]), (V{{1 << 20, 3}}));
    EXPECT_EQ(extents(r[2]), (V{{1024, 1}}));
}

TEST_F(TransmissionTest, BlockStatusWithoutContextsIsRefused) {
    peer_ = std::make_unique<RawNbdPeer>(socket_);
    peer_->negotiate("rw", true);
    peer_->sendRequest(0, CmdBlockStatus, 1, 0, 512);
    EXPECT_EQ(expectError(NbdEinval).message, "CMD_BLOCK_STATUS not negotiated");
}

TEST_F(TransmissionTest, WritesZeroesTrimFlushAndSimpleReplies) {
    connectRw(false);
    std::vector<uint8_t> data(4096, 0x5a);
    peer_->sendRequest(CmdFlagFua, CmdWrite, 1, 8192, 4096, data);
    EXPECT_EQ(peer_->readReply()[0].error, 0u);
    peer_->sendRequest(CmdFlagNoHole, CmdWriteZeroes, 2, (1 << 20), 4096);
    EXPECT_EQ(peer_->readReply()[0].error, 0u);
    peer_->sendRequest(CmdFlagFua, CmdTrim, 3, (1 << 20) + 4096, 4096);
    EXPECT_EQ(peer_->readReply()[0].error, 0u);
    peer_->sendRequest(0, CmdCache, 4, 0, 4096);
    EXPECT_EQ(peer_->readReply()[0].error, 0u);
    peer_->sendRequest(0, CmdRead, 5, 8192, 4096);
    EXPECT_EQ(peer_->readReply(4096)[0].payload, data);
    peer_->sendRequest(0, CmdRead, 6, 1 << 20, 8192);
    EXPECT_EQ(peer_->readReply(8192)[0].payload, std::vector<uint8_t>(8192, 0));
    peer_->sendRequest(0, CmdDisc, 7, 0, 0);
    EXPECT_TRUE(peer_->closedByServer());
    std::string file = readFile("rw.raw");
    EXPECT_EQ(file.substr(8192, 4096), std::string(4096, '\x5a'));
    EXPECT_EQ(file.substr(1 << 20, 8192), std::string(8192, '\0'));
    EXPECT_EQ(file[(1 << 20) + 8192], '\x11');
}

TEST_F(TransmissionTest, PipelinedRequestsAllAnswered) {
    connectRw();
    constexpr int kRequests = 100;
    for (int i = 0; i < kRequests; ++i)
        peer_->sendRequest(0, CmdRead, uint64_t(1000 + i), uint64_t(i) * 65536, 65536);
    std::set<uint64_t> seen;
    while (seen.size() < kRequests) {
        auto c = peer_->readChunk();
        if (c.flags & kReplyFlagDone)
            seen.insert(c.cookie);
    }
    EXPECT_EQ(*seen.begin(), 1000u);
    EXPECT_EQ(*seen.rbegin(), uint64_t(1000 + kRequests - 1));
}

TEST_F(TransmissionTest, ExportNameOptionClassicReply) {
    RawNbdPeer p(socket_);
    p.readGreeting();
    p.sendClientFlags(kClientFixedNewstyle); // no NO_ZEROES: 124 zero bytes follow
    WireWriter w;
    w.u64(kOptMagic);
    w.u32(OptExportName);
    w.u32(2);
    w.str("ro");
    p.sendRaw(w.bytes);
    std::vector<uint8_t> reply(134);
    p.readExact(reply.data(), reply.size());
    EXPECT_EQ(be64(reply.data()), kSize);
    EXPECT_EQ((reply[8] << 8) | reply[9], 0x50f);
    EXPECT_EQ(reply[133], 0);
    p.sendRequest(0, CmdRead, 1, 0, 4);
    EXPECT_EQ(p.readReply(4)[0].payload, std::vector<uint8_t>(4, 0x22));
}

TEST_F(TransmissionTest, UnknownExportNameDisconnects) {
    {
        RawNbdPeer p(socket_);
        p.readGreeting();
        p.sendClientFlags(3);
        WireWriter w;
        w.u64(kOptMagic);
        w.u32(OptExportName);
        w.u32(6);
        w.str("nosuch");
        p.sendRaw(w.bytes);
        EXPECT_TRUE(p.closedByServer());
    }
    expectServerAlive();
}

TEST_F(TransmissionTest, ExportsAddedAndRemovedWhileRunning) {
    connectRw();
    ExportConfig extra;
    extra.name = "extra";
    extra.image = makeRaw("extra.raw", 1 << 20, 0, 512, 0x77);
    server_->addExport(extra);
    EXPECT_THROW(server_->addExport(extra), NbdError);
    {
        RawNbdPeer p(socket_);
        p.negotiate("extra", true);
        p.sendRequest(0, CmdRead, 1, 0, 4);
        EXPECT_EQ(p.readReply()[0].payload[8], 0x77);
        EXPECT_TRUE(server_->removeExport("extra", true));
        EXPECT_TRUE(p.closedByServer());
    }
    EXPECT_FALSE(server_->removeExport("extra"));
    {
        RawNbdPeer p(socket_);
        p.readGreeting();
        p.sendClientFlags(3);
        EXPECT_EQ(p.optionUntilFinal(OptGo, infoPayload("extra", {})).back().type, RepErrUnknown);
    }
    // Soft removal: the connected client keeps working.
    EXPECT_TRUE(server_->removeExport("rw"));
    peer_->sendRequest(0, CmdRead, 2, 1 << 20, 4);
    EXPECT_EQ(peer_->readReply()[0].payload[8], 0x11);
}

TEST_F(TransmissionTest, SlowClientDoesNotDelayOthers) {
    // A client that requests lots of data and never reads the replies.
    connectRw();
    for (int i = 0; i < 64; ++i)
        peer_->sendRequest(CmdFlagDf, CmdRead, uint64_t(i), 0, 1 << 20);
    for (int i = 0; i < 3; ++i)
        expectServerAlive();
}

} // namespace
} // namespace e2kvm::nbd::test
