#pragma once
// ServerFixture: an in-process NBD server on a Unix socket in a fresh temporary directory,
// serving raw images made by the test. Removes everything afterwards.
#include "block/BlockDriver.h"
#include "nbd/Server.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace e2kvm::nbd::test {

class ServerFixture : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;
    // Creates a raw image of `size` bytes; bytes [dataOffset, dataOffset+dataLength) hold
    // `pattern`, the rest is a hole.
    std::shared_ptr<block::BlockDriver> makeRaw(const std::string& name, uint64_t size,
                                                uint64_t dataOffset = 0, uint64_t dataLength = 0,
                                                uint8_t pattern = 0, bool readOnly = false);
    void startServer(ServerOptions options = {});
    std::string readFile(const std::string& name) const;

    std::string dir_;
    std::string socket_;
    std::unique_ptr<Server> server_;
};

} // namespace e2kvm::nbd::test
