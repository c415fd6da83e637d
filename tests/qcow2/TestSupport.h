#pragma once
// Helpers shared by the qcow2 tests: a temporary directory, running peer tools, patterns.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace e2kvm::block::test {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    std::string path(const std::string& name) const { return dir_ + "/" + name; }

private:
    std::string dir_;
};

// Runs a shell command (with a timeout); returns its exit status and captures stdout.
int run(const std::string& command, std::string* output = nullptr);
bool haveTool(const std::string& name);

std::vector<uint8_t> pattern(size_t n, uint8_t seed);
std::unique_ptr<BlockDriver> openRw(const std::string& path);
std::unique_ptr<BlockDriver> openRo(const std::string& path);
void createQcow2(const std::string& path, uint64_t size, uint32_t clusterSize = 65536,
                 const std::string& backing = "", const std::string& backingFmt = "");
std::vector<uint8_t> readAll(BlockDriver& d);
std::vector<uint8_t> readFile(const std::string& path);
void writeFileBytes(const std::string& path, uint64_t offset, const std::vector<uint8_t>& bytes);
void putBe(std::vector<uint8_t>& b, size_t off, uint64_t v, int bytes);

} // namespace e2kvm::block::test
