#pragma once
// GuestDisks: temporary directories and writable copies of the demo boot disk (raw or qcow2)
// for the guest tests, written through the block layer so the copies stay sparse.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace e2kvm::emu::test {

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/e2kvm-guest-XXXXXX";
        if (!mkdtemp(tmpl))
            throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string path;
};

inline std::shared_ptr<block::BlockDriver> openRw(const std::string& path) {
    block::OpenOptions o;
    o.readOnly = false;
    return block::openImage(path, o);
}

// The demo disk's size and its used part (header + program), read without touching the
// sparse zeros after it.
struct DemoDiskImage {
    uint64_t size = 0;
    std::vector<uint8_t> used;
};

inline DemoDiskImage demoDiskImage() {
    DemoDiskImage img;
    img.size = std::filesystem::file_size(E2KVM_GUEST_DEMO_DISK);
    std::ifstream in(E2KVM_GUEST_DEMO_DISK, std::ios::binary);
    std::vector<uint8_t> header(512);
    in.read(reinterpret_cast<char*>(header.data()), 512);
    uint64_t sectors = 0;
    std::memcpy(&sectors, header.data() + 16, 8);
    if (!in || sectors == 0 || sectors > 4096)
        throw std::runtime_error(std::string(E2KVM_GUEST_DEMO_DISK) + ": bad boot header");
    img.used.resize(size_t(1 + sectors) * 512);
    in.seekg(0);
    in.read(reinterpret_cast<char*>(img.used.data()), std::streamsize(img.used.size()));
    return img;
}

// A writable copy of the demo disk in `format` (raw or qcow2).
inline std::shared_ptr<block::BlockDriver> demoDisk(const TempDir& dir, const std::string& name,
                                                    const std::string& format = "raw") {
    DemoDiskImage img = demoDiskImage();
    std::string path = dir.path + "/" + name;
    block::CreateOptions co;
    co.format = format;
    co.size = img.size;
    co.sizeGiven = true;
    block::createImage(path, co);
    auto d = openRw(path);
    d->write(0, img.used);
    return d;
}

} // namespace e2kvm::emu::test
