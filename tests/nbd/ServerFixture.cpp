#include "ServerFixture.h"

#include "block/ImageOpen.h"

#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>
#include <vector>

namespace e2kvm::nbd::test {

void ServerFixture::SetUp() {
    char tmpl[] = "/tmp/e2kvm-nbd-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/sock";
}

void ServerFixture::TearDown() {
    if (server_)
        server_->stop();
    server_.reset();
    std::filesystem::remove_all(dir_);
}

std::shared_ptr<block::BlockDriver> ServerFixture::makeRaw(const std::string& name, uint64_t size,
                                                           uint64_t dataOffset, uint64_t dataLength,
                                                           uint8_t pattern, bool readOnly) {
    std::string path = dir_ + "/" + name;
    int fd = open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, off_t(size)), 0);
    if (dataLength) {
        std::vector<uint8_t> buf(dataLength, pattern);
        EXPECT_EQ(pwrite(fd, buf.data(), buf.size(), off_t(dataOffset)), ssize_t(dataLength));
    }
    close(fd);
    block::OpenOptions o;
    o.format = "raw";
    o.readOnly = readOnly;
    return block::openImage(path, o);
}

void ServerFixture::startServer(ServerOptions options) {
    server_ = std::make_unique<Server>(std::move(options));
    server_->listenUnix(socket_);
    server_->start();
}

std::string ServerFixture::readFile(const std::string& name) const {
    std::ifstream f(dir_ + "/" + name, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

} // namespace e2kvm::nbd::test
