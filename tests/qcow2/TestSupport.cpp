#include "TestSupport.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace e2kvm::block::test {

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/e2kvm-qcow2-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data()))
        throw std::runtime_error("mkdtemp failed");
    dir_ = buf.data();
}

TempDir::~TempDir() {
    run("rm -rf '" + dir_ + "'");
}

int run(const std::string& command, std::string* output) {
    std::string cmd = "timeout 120 sh -c '" + [&] {
        std::string q;
        for (char c : command)
            q += c == '\'' ? std::string("'\\''") : std::string(1, c);
        return q;
    }() + "'";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p)
        return -1;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        if (output)
            output->append(buf, n);
    int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool haveTool(const std::string& name) {
    return run("command -v " + name + " >/dev/null 2>&1") == 0;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; ++i) {
        x = x * 1103515245u + 12345u;
        v[i] = uint8_t(x >> 16);
    }
    return v;
}

std::unique_ptr<BlockDriver> openRw(const std::string& path) {
    OpenOptions o;
    o.readOnly = false;
    return openImage(path, o);
}

std::unique_ptr<BlockDriver> openRo(const std::string& path) {
    return openImage(path, OpenOptions{});
}

void createQcow2(const std::string& path, uint64_t size, uint32_t clusterSize,
                 const std::string& backing, const std::string& backingFmt) {
    CreateOptions o;
    o.format = "qcow2";
    o.size = size;
    o.sizeGiven = size != 0;
    o.clusterSize = clusterSize;
    o.backingFile = backing;
    o.backingFormat = backingFmt;
    createImage(path, o);
}

std::vector<uint8_t> readAll(BlockDriver& d) {
    std::vector<uint8_t> v(d.size());
    d.read(0, v);
    return v;
}

std::vector<uint8_t> readFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void writeFileBytes(const std::string& path, uint64_t offset, const std::vector<uint8_t>& bytes) {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(std::streamoff(offset));
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void putBe(std::vector<uint8_t>& b, size_t off, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) {
        b[off + size_t(i)] = uint8_t(v);
        v >>= 8;
    }
}

} // namespace e2kvm::block::test
